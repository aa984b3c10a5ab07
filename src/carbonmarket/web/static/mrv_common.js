// Small helpers shared by the MRV pages (import, verification, trace): table cells, refusals in
// words, and calls to our API with the signed-in user's token from sessionStorage.
import { clearSession, currentSession, readJson } from "/static/session.js";

export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined || text === "" ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

export function headerCell(text, className) {
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) th.className = className;
  return th;
}

export function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

export function link(href, text, className) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (className) a.className = className;
  return a;
}

export function signInLink(text) {
  return link(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`, text);
}

// Machine words (in_progress, record_value_negative) as a person reads them.
export function words(text) {
  return String(text).replaceAll("_", " ");
}

const grouping = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });

// Whole tonnes and other figures with thousands separators; text that is not a number stays as it is.
export function figure(value) {
  if (value === null || value === undefined || value === "") return "—";
  const number = typeof value === "number" ? value : Number(value);
  return Number.isFinite(number) && String(value).trim() !== "" ? grouping.format(number) : String(value);
}

// "1 alert", "3 alerts": counts in words a person reads.
export function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function period(year, month) {
  return month ? `${year}-${String(month).padStart(2, "0")}` : String(year);
}

// Each command carries an id of our choosing, so a retried request is recognised by the server (rule 4).
export function commandId(prefix) {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now());
  return `${prefix}-${random}`.slice(0, 64);
}

function authHeaders() {
  const session = currentSession();
  const headers = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return headers;
}

// POST a JSON body; resolves to {status, body} and never throws for HTTP errors.
export async function apiPost(path, body) {
  const headers = { ...authHeaders(), "Content-Type": "application/json" };
  return readJson(await fetch(path, { method: "POST", headers, body: JSON.stringify(body) }));
}

// POST a multipart form (a file upload); the browser sets the boundary of the Content-Type itself.
export async function apiUpload(path, formData) {
  return readJson(await fetch(path, { method: "POST", headers: authHeaders(), body: formData }));
}

// A box that shows refusals in words: the API's own message, or what to do about a lost session.
export function errorBox(element) {
  function show(text, action) {
    element.replaceChildren(document.createTextNode(text));
    if (action) element.append(" ", action);
    element.hidden = false;
  }
  return {
    show,
    hide() {
      element.hidden = true;
    },
    // Turn a refusal of the API into words; the code stays visible for a person reporting it.
    explain(status, body) {
      if (status === 401) {
        clearSession();
        show("Your session has ended.", signInLink("Sign in again"));
        return;
      }
      const message = body && body.message ? body.message : `The server answered HTTP ${status}.`;
      show(body && body.code ? `${message} (${body.code})` : message);
    },
  };
}

// Fill a table body; show the table or its "empty" note.
export function fillTable(tableId, emptyId, rows) {
  const table = document.getElementById(tableId);
  const body = table.querySelector("tbody");
  body.replaceChildren(...rows);
  table.closest(".table-scroll").hidden = rows.length === 0;
  if (emptyId) document.getElementById(emptyId).hidden = rows.length > 0;
}

// An entity's compliance position: the obligation, what is owed, what it holds and whether each unit
// settles the year; a form surrenders through the compliance API with the signed-in user's token.
import { apiGet, clearSession, currentSession, formatQuantity, readJson } from "/static/session.js";

const summary = document.getElementById("position-summary");
const errorBox = document.getElementById("position-error");
const statusLine = document.getElementById("position-status");
const pick = document.getElementById("position-pick");
const entityField = document.getElementById("pick-entity");
const yearField = document.getElementById("pick-year");
const form = document.getElementById("surrender-form");
const instrumentField = document.getElementById("surrender-instrument");
const quantityField = document.getElementById("surrender-quantity");
const submit = document.getElementById("surrender-submit");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function showError(text, action) {
  errorBox.replaceChildren(document.createTextNode(text));
  if (action) errorBox.append(" ", action);
  errorBox.hidden = false;
}

function signInLink() {
  const link = document.createElement("a");
  link.href = `/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
  link.textContent = "Sign in";
  return link;
}

function explain(status, body) {
  if (status === 401) {
    clearSession();
    showError("Your session has ended.", signInLink());
  } else {
    showError(body.message || `The server answered HTTP ${status}.`);
  }
}

// Each command carries an id of our choosing, so a retried request is recognised by the server.
function commandId() {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now());
  return `web-${random}`.slice(0, 64);
}

function option(value, text) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

async function entitiesOfUser() {
  const wanted = new URLSearchParams(window.location.search).get("entity");
  const { status, body } = await apiGet("/api/auth/me");
  if (status !== 200) return { status, body, entities: [] };
  const own = body.accounts.map((a) => a.account).filter((id) => id.endsWith("-H")).map((id) => id.slice(0, -2));
  const entities = wanted && !own.includes(wanted) ? [wanted, ...own] : own;
  return { status, body, entities };
}

// Only the latest load draws the page: a slow answer for an entity-year no longer chosen is dropped.
let loads = 0;

async function load() {
  errorBox.hidden = true;
  const entity = entityField.value;
  const year = yearField.value;
  const number = ++loads;
  const { status, body } = await apiGet(`/api/compliance/years/${year}/entities/${encodeURIComponent(entity)}`);
  if (number !== loads) return;
  if (status !== 200) {
    for (const id of ["figures-section", "holdings-section", "surrender-section", "history-section"]) {
      document.getElementById(id).hidden = true;
    }
    summary.textContent = `${entity}, compliance year ${year}.`;
    explain(status, body);
    return;
  }
  summary.textContent =
    `${body.entity_id}, compliance year ${body.year}: due by ${body.deadline} ` +
    `(${body.days_to_deadline >= 0 ? `${body.days_to_deadline} days left` : "deadline passed"}); ` +
    `the year is ${body.year_status.replaceAll("_", " ")}. Vintages that settle it: ${body.eligible_vintages.join(", ")}.`;
  document.getElementById("fig-obligation").textContent = formatQuantity(body.obligation_t);
  document.getElementById("fig-surrendered").textContent = formatQuantity(body.surrendered_t);
  document.getElementById("fig-owed").textContent = formatQuantity(body.owed_t);
  document.getElementById("fig-room").textContent = formatQuantity(body.offset_room_t);
  document.getElementById("fig-status").textContent = body.status.replaceAll("_", " ");
  document.getElementById("figures-section").hidden = false;

  const holdings = document.querySelector("#holdings tbody");
  holdings.replaceChildren(
    ...body.holdings.map((h) => {
      const tr = document.createElement("tr");
      tr.append(
        cell(h.instrument, "mono"),
        cell(formatQuantity(h.total), "num"),
        cell(formatQuantity(h.available), "num"),
        cell(h.eligible ? "yes" : `no: ${h.reason}`),
      );
      return tr;
    }),
  );
  document.getElementById("holdings-empty").hidden = body.holdings.length > 0;
  document.getElementById("holdings-section").hidden = false;

  const usable = body.holdings.filter((h) => h.eligible && h.available > 0);
  instrumentField.replaceChildren(
    ...usable.map((h) => option(h.instrument, `${h.instrument} (${formatQuantity(h.available)} t available)`)),
  );
  document.getElementById("surrender-section").hidden = !(body.year_status === "open" && body.owed_t > 0 && usable.length);

  const history = document.querySelector("#history tbody");
  history.replaceChildren(
    ...body.surrenders.map((s) => {
      const tr = document.createElement("tr");
      tr.append(cell(s.at.slice(0, 19).replace("T", " ")), cell(s.instrument, "mono"), cell(formatQuantity(s.quantity), "num"), cell(s.actor), cell(s.transaction, "mono"));
      return tr;
    }),
  );
  document.getElementById("history-section").hidden = body.surrenders.length === 0;
}

async function surrender(event) {
  event.preventDefault();
  errorBox.hidden = true;
  statusLine.textContent = "";
  submit.disabled = true;
  const session = currentSession();
  const payload = {
    id: commandId(),
    entity_id: entityField.value,
    items: [{ instrument: instrumentField.value, quantity: quantityField.value.trim() }],
  };
  try {
    const response = await fetch(`/api/compliance/years/${yearField.value}/surrenders`, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
      body: JSON.stringify(payload),
    });
    const { status, body } = await readJson(response);
    if (status === 201 || status === 200) {
      statusLine.textContent =
        `Surrendered ${formatQuantity(body.surrendered_t)} t of ${payload.items[0].instrument}; ` +
        `${formatQuantity(body.owed_t)} t still owed.`;
      quantityField.value = "";
      await load();
    } else {
      explain(status, body);
    }
  } finally {
    submit.disabled = false;
  }
}

async function start() {
  if (!currentSession()) {
    summary.textContent = "Sign in as an entity's representative to see its compliance position.";
    showError("You are not signed in.", signInLink());
    return;
  }
  const { status, body, entities } = await entitiesOfUser();
  if (status !== 200) {
    explain(status, body);
    return;
  }
  if (!entities.length) {
    summary.textContent = "Your user holds no right on an entity's holding account; add ?entity=<id> to look one up.";
    return;
  }
  const years = await apiGet("/api/compliance/years");
  const list = years.body.years || [];
  entityField.replaceChildren(...entities.map((e) => option(e, e)));
  yearField.replaceChildren(...list.map((y) => option(String(y.year), `${y.year} (${y.status.replaceAll("_", " ")})`)));
  const open = list.find((y) => y.status === "open") || list[list.length - 1];
  if (open) yearField.value = String(open.year);
  pick.hidden = false;
  entityField.addEventListener("change", load);
  yearField.addEventListener("change", load);
  form.addEventListener("submit", surrender);
  await load();
}

start();

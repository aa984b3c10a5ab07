// The reviewer's queue: fetch the cases and open alerts of the reviewer's tier and region with the
// user's token, and post take / refer / resolve / confirm / message actions to the review API.
import { apiGet, clearSession, currentSession, readJson } from "/static/session.js";

const API = "/api/mrv/review";
const summary = document.getElementById("review-summary");
const errorBox = document.getElementById("review-error");
const statusLine = document.getElementById("review-status");
const form = document.getElementById("act-form");
const actionField = document.getElementById("act-action");
const outcomeField = document.getElementById("act-outcome-field");
const submit = document.getElementById("act-submit");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

function signInLink(text) {
  const link = document.createElement("a");
  link.href = `/login?next=${encodeURIComponent(window.location.pathname)}`;
  link.textContent = text;
  return link;
}

function showError(text, action) {
  errorBox.replaceChildren(document.createTextNode(text));
  if (action) errorBox.append(" ", action);
  errorBox.hidden = false;
}

// Machine words (in_review, confirmed_error) as a person reads them.
function words(text) {
  return String(text).replaceAll("_", " ");
}

function period(item) {
  return item.month ? `${item.year}-${String(item.month).padStart(2, "0")}` : String(item.year);
}

// Each command carries an id of our choosing, so a retried request is recognised by the server.
function commandId(prefix) {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now());
  return `${prefix}-${random}`.slice(0, 64);
}

async function apiPost(path, body) {
  const session = currentSession();
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return readJson(await fetch(path, { method: "POST", headers, body: JSON.stringify(body) }));
}

// Turn a refusal of the API into words for the reviewer.
function explain(status, body) {
  if (status === 401) {
    clearSession();
    showError("Your session has ended.", signInLink("Sign in again"));
  } else if (status === 403) {
    showError(body.message || "This is not yours to review.");
  } else {
    showError(body.message || `The server answered HTTP ${status}.`);
  }
}

function describeScope(scope) {
  if (!scope) return "You see every tier and region.";
  const where = [scope.province, scope.city].filter(Boolean).join(" / ");
  return `You review at the ${scope.tier} tier${where ? ` for ${where}` : ", for the whole country"}.`;
}

function pickCase(caseId) {
  form.elements.case.value = caseId;
  form.elements.text.focus();
  loadThread(caseId);
}

function renderCases(cases) {
  const tbody = document.querySelector("#cases tbody");
  tbody.replaceChildren();
  for (const item of cases) {
    const pick = document.createElement("button");
    pick.type = "button";
    pick.textContent = "Select";
    pick.dataset.case = item.case;
    pick.addEventListener("click", () => pickCase(item.case));
    const th = document.createElement("th");
    th.scope = "row";
    th.className = "mono";
    th.textContent = item.case;
    const action = document.createElement("td");
    action.append(pick);
    tbody.append(
      row(
        th,
        cell(item.entity_id, "mono"),
        cell(period(item)),
        cell([item.province, item.city].filter(Boolean).join(" / ") || null),
        cell(item.tier),
        cell(words(item.status)),
        cell(item.title),
        cell(item.alerts.length, "num"),
        action,
      ),
    );
  }
  document.getElementById("cases-empty").hidden = cases.length > 0;
  document.getElementById("cases").hidden = cases.length === 0;
  document.getElementById("cases-section").hidden = false;
}

function renderAlerts(alerts) {
  const tbody = document.querySelector("#alerts tbody");
  tbody.replaceChildren();
  for (const alert of alerts) {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = alert.alert_id;
    box.dataset.entity = alert.entity_id;
    box.dataset.year = alert.year;
    box.setAttribute("aria-label", `Pick alert ${alert.alert_id}`);
    const pick = document.createElement("td");
    pick.append(box);
    tbody.append(
      row(
        pick,
        cell(alert.alert_id, "mono"),
        cell(alert.entity_id, "mono"),
        cell(period(alert)),
        cell(alert.rule_id, "mono"),
        cell(alert.severity),
        cell(alert.parameter, "mono"),
        cell(alert.message),
      ),
    );
  }
  document.getElementById("alerts-empty").hidden = alerts.length > 0;
  document.getElementById("alerts").hidden = alerts.length === 0;
  document.getElementById("open-case-row").hidden = alerts.length === 0;
  document.getElementById("alerts-section").hidden = false;
}

async function loadThread(caseId) {
  const answer = await apiGet(`${API}/cases/${encodeURIComponent(caseId)}`);
  if (answer.status !== 200) {
    explain(answer.status, answer.body);
    return;
  }
  document.getElementById("thread-case").textContent = caseId;
  const tbody = document.querySelector("#thread tbody");
  tbody.replaceChildren();
  for (const message of answer.body.thread) {
    const files = message.attachments.map((a) => `${a.name} (${a.sha256.slice(0, 12)}…)`).join(", ");
    tbody.append(
      row(
        cell(String(message.at).slice(0, 16).replace("T", " ")),
        cell(message.author, "mono"),
        cell(message.tier),
        cell(words(message.kind)),
        cell(message.body),
        cell(files || null),
      ),
    );
  }
  document.getElementById("thread-section").hidden = false;
}

async function load() {
  if (!currentSession()) {
    summary.textContent = "";
    showError("Sign in as a reviewer to see your queue.", signInLink("Sign in"));
    return;
  }
  try {
    const answer = await apiGet(`${API}/queue?limit=200`);
    if (answer.status !== 200) {
      summary.textContent = "";
      explain(answer.status, answer.body);
      return;
    }
    errorBox.hidden = true;
    const { scope, cases, alerts } = answer.body;
    summary.textContent = `${describeScope(scope)} ${cases.length} cases and ${alerts.length} uncovered alerts wait.`;
    renderCases(cases);
    renderAlerts(alerts);
    document.getElementById("act-section").hidden = false;
  } catch {
    showError("The review service could not be reached. Try again in a moment.");
  }
}

function attachments() {
  const text = form.elements.attachment.value.trim();
  if (!text) return [];
  const at = text.lastIndexOf("=");
  return [{ name: text.slice(0, at).trim(), sha256: text.slice(at + 1).trim().toLowerCase() }];
}

// The body each action of the review API expects.
function bodyFor(action, text) {
  const files = attachments();
  switch (action) {
    case "take":
      return text ? { id: commandId("take"), note: text } : { id: commandId("take") };
    case "refer":
      return { id: commandId("refer"), reason: text, attachments: files };
    case "resolve":
      return { id: commandId("resolve"), outcome: form.elements.outcome.value, explanation: text, attachments: files };
    case "confirm-correction":
      return { id: commandId("confirm"), note: text, attachments: files };
    default:
      return { id: commandId("message"), text, attachments: files };
  }
}

actionField.addEventListener("change", () => {
  outcomeField.hidden = actionField.value !== "resolve";
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const caseId = form.elements.case.value.trim();
  const action = actionField.value;
  const text = form.elements.text.value.trim();
  if (!caseId) {
    showError("Pick a case first.");
    return;
  }
  if (action !== "take" && !text) {
    showError("Say why: a reason, explanation or message is needed for this action.");
    return;
  }
  submit.disabled = true;
  try {
    const answer = await apiPost(`${API}/cases/${encodeURIComponent(caseId)}/${action}`, bodyFor(action, text));
    if (answer.status === 200 || answer.status === 201) {
      form.elements.text.value = "";
      form.elements.attachment.value = "";
      await load();
      await loadThread(caseId);
      statusLine.textContent = `Case ${caseId}: ${answer.body.status ? words(answer.body.status) : "message added"}.`;
    } else {
      explain(answer.status, answer.body);
    }
  } catch {
    showError("The review service could not be reached. Try again in a moment.");
  } finally {
    submit.disabled = false;
  }
});

document.getElementById("open-case").addEventListener("click", async () => {
  errorBox.hidden = true;
  const picked = [...document.querySelectorAll("#alerts tbody input:checked")];
  if (picked.length === 0) {
    showError("Pick at least one alert.");
    return;
  }
  const caseId = commandId("case");
  const answer = await apiPost(`${API}/cases`, { id: caseId, alerts: picked.map((box) => box.value) });
  if (answer.status === 201 || answer.status === 200) {
    statusLine.textContent = `Opened case ${caseId} at the ${answer.body.tier} tier.`;
    await load();
    pickCase(caseId);
  } else {
    explain(answer.status, answer.body);
  }
});

load();

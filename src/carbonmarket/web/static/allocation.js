// The allocation console and an entity's allocation: read plans, a year's dry run and runs, and an
// entity's lines from the allocation API with the user's token; run pre-allocation and true-up only
// after the user confirms what the dry run shows.
import { apiGet, clearSession, currentSession, formatQuantity, readJson } from "/static/session.js";

const API = "/api/allocation";
const errorBox = document.getElementById("alloc-error");
const statusLine = document.getElementById("alloc-status");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function tonnes(value) {
  return value === null || value === undefined ? "—" : formatQuantity(value, "t");
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

function showError(text) {
  errorBox.replaceChildren(document.createTextNode(text));
  if (text.startsWith("Your session")) {
    const link = document.createElement("a");
    link.href = `/login?next=${encodeURIComponent(window.location.pathname)}`;
    link.textContent = "Sign in";
    errorBox.append(" ", link);
  }
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
}

function explain(status, body) {
  if (status === 401) {
    clearSession();
    showError("Your session has ended or you are not signed in.");
  } else {
    showError(body.message || `The server answered HTTP ${status}.`);
  }
}

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

// --- plans ------------------------------------------------------------------------------------------

async function loadPlans() {
  const table = document.getElementById("plans");
  if (!table) return;
  const { status, body } = await apiGet(`${API}/plans`);
  if (status !== 200) return explain(status, body);
  const rows = body.plans.map((p) =>
    row(cell(p.plan_id, "mono"), cell(p.version, "num"), cell(p.kind.replaceAll("_", " ")), cell(p.status), cell(p.years), cell(p.published_at)),
  );
  table.querySelector("tbody").replaceChildren(...rows);
  document.getElementById("plans-empty").hidden = rows.length > 0;
}

// --- a year ----------------------------------------------------------------------------------------

let shownYear = null;
let lastCalc = null;

function calcRows(summary) {
  const rows = [];
  for (const [sector, entry] of Object.entries(summary.sectors)) {
    const categories = Object.entries(entry.categories);
    const missing = entry.missing_preallocation + entry.missing_final;
    rows.push(
      row(cell(sector), cell(entry.plan, "mono"), cell("all"), cell(entry.entities, "num"), cell("", "num"),
        cell(tonnes(entry.preallocation_t), "num"), cell(tonnes(entry.final_t), "num"), cell(missing, "num")),
    );
    for (const [category, figures] of categories) {
      rows.push(row(cell(""), cell(""), cell(category), cell(figures.units, "num"), cell(tonnes(figures.formula_t), "num"),
        cell(""), cell(""), cell("")));
    }
  }
  return rows;
}

async function loadYear(year) {
  clearError();
  statusLine.textContent = `Calculating ${year}…`;
  const calc = await apiGet(`${API}/calc?year=${year}`);
  if (calc.status !== 200) {
    statusLine.textContent = "";
    document.getElementById("calc-section").hidden = true;
    return explain(calc.status, calc.body);
  }
  shownYear = year;
  lastCalc = calc.body;
  document.getElementById("calc-year").textContent = String(year);
  const summary = calc.body.summary;
  document.getElementById("calc-totals").textContent =
    `${summary.entities} entities; pre-allocation ${tonnes(summary.preallocation_t)} t; final allocation ${tonnes(summary.final_t)} t (where verified).`;
  document.querySelector("#calc tbody").replaceChildren(...calcRows(summary));
  const problems = calc.body.problems.map((p) => {
    const li = document.createElement("li");
    li.textContent = `${p.entity_id} (${p.stage}): ${p.message}`;
    return li;
  });
  document.getElementById("problems").replaceChildren(...problems);
  const overview = await apiGet(`${API}/years/${year}`);
  if (overview.status !== 200) return explain(overview.status, overview.body);
  const runs = overview.body.runs.map((r) =>
    row(cell(r.run, "mono"), cell(r.kind.replace("_", "-")), cell(r.entities, "num"), cell(tonnes(r.issued_t), "num"),
      cell(tonnes(r.delivered_t), "num"), cell(tonnes(r.withdrawn_t), "num"), cell(tonnes(r.shortfall_t), "num"), cell(r.at)),
  );
  document.querySelector("#runs tbody").replaceChildren(...runs);
  document.getElementById("runs-empty").hidden = runs.length > 0;
  document.getElementById("calc-section").hidden = false;
  statusLine.textContent = "";
}

let pending = null;

function askToConfirm(kind) {
  if (!lastCalc) return;
  const summary = lastCalc.summary;
  const words = kind === "preallocation"
    ? `Pre-allocate ${shownYear}: ${tonnes(summary.preallocation_t)} t to ${summary.entities} entities' holding accounts.`
    : `True up ${shownYear}: settle ${summary.entities} entities at their final allocation of ${tonnes(summary.final_t)} t (top-ups and withdrawals).`;
  pending = kind;
  document.getElementById("confirm-text").textContent = `${words} This moves units in the registry. Confirm?`;
  document.getElementById("confirm").hidden = false;
}

async function runConfirmed() {
  const kind = pending;
  pending = null;
  document.getElementById("confirm").hidden = true;
  if (!kind) return;
  const path = kind === "preallocation" ? `${API}/preallocations` : `${API}/true-ups`;
  const { status, body } = await apiPost(path, { id: commandId(kind === "preallocation" ? "pre" : "tu"), year: shownYear });
  if (status !== 201 && status !== 200) return explain(status, body);
  await loadYear(shownYear);
  statusLine.textContent = `${kind === "preallocation" ? "Pre-allocation" : "True-up"} ${body.run}: issued ${tonnes(body.issued_t)} t, delivered ${tonnes(body.delivered_t)} t, withdrawn ${tonnes(body.withdrawn_t)} t.`;
}

// --- an entity ---------------------------------------------------------------------------------------

function termsText(terms) {
  return Object.entries(terms)
    .filter(([key]) => key !== "rule")
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
}

async function showLines(entity, year) {
  const { status, body } = await apiGet(`${API}/entities/${encodeURIComponent(entity)}/years/${year}`);
  if (status !== 200) return explain(status, body);
  const rows = [];
  for (const run of body.runs) {
    for (const line of run.lines) {
      rows.push(row(cell(run.run, "mono"), cell(line.stage), cell(line.facility_id || "entity"), cell(line.category),
        cell(termsText(line.terms), "mono"), cell(tonnes(line.result_t), "num")));
    }
  }
  const table = document.getElementById("lines");
  table.querySelector("tbody").replaceChildren(...rows);
  table.hidden = false;
}

async function loadEntity(entity) {
  clearError();
  const { status, body } = await apiGet(`${API}/entities/${encodeURIComponent(entity)}`);
  if (status !== 200) return explain(status, body);
  const rows = body.years.map((y) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `Lines of ${y.year}`;
    button.addEventListener("click", () => showLines(entity, y.year));
    const action = document.createElement("td");
    action.append(button);
    return row(cell(y.year), cell(`${y.plan} v${y.plan_version}`, "mono"), cell(y.vintage), cell(tonnes(y.preallocated_t), "num"),
      cell(tonnes(y.final_t), "num"), cell(tonnes(y.delivered_t), "num"), cell(tonnes(y.deducted_t), "num"), cell(y.status), action);
  });
  document.querySelector("#entity-years tbody").replaceChildren(...rows);
  document.getElementById("entity-empty").hidden = rows.length > 0;
  document.getElementById("entity-owed").textContent = `Deductions still owed: ${tonnes(body.owed_t)} t.`;
  document.getElementById("lines").hidden = true;
  document.getElementById("entity-section").hidden = false;
}

// The representative's own entity: the holder of the first holding account the user has a right on.
async function ownEntity() {
  const { status, body } = await apiGet("/api/auth/me");
  if (status !== 200) return null;
  const holding = body.accounts.map((a) => a.account).find((a) => a.endsWith("-H"));
  return holding ? holding.slice(0, -2) : null;
}

async function start() {
  if (!currentSession()) {
    showError("Your session has ended or you are not signed in.");
  }
  document.getElementById("entity-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadEntity(document.getElementById("entity").value.trim());
  });
  if (document.querySelector("[data-allocation-console]")) {
    document.getElementById("year-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadYear(Number(document.getElementById("year").value));
    });
    document.getElementById("run-preallocation").addEventListener("click", () => askToConfirm("preallocation"));
    document.getElementById("run-true-up").addEventListener("click", () => askToConfirm("true_up"));
    document.getElementById("confirm-run").addEventListener("click", runConfirmed);
    document.getElementById("confirm-cancel").addEventListener("click", () => {
      pending = null;
      document.getElementById("confirm").hidden = true;
    });
    await loadPlans();
  } else if (currentSession()) {
    const entity = await ownEntity();
    if (entity) {
      document.getElementById("entity").value = entity;
      await loadEntity(entity);
    }
  }
}

start();

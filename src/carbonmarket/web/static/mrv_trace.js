// The parameter trace page: fetch /api/mrv/trace/{entity}/{year} (what `carbonmarket trace --json`
// prints) and draw it. Sections this page knows get their own tables; any other section of the answer
// (allocation, compliance, or one a later part adds) is drawn generically from its shape.
import { apiGet, currentSession } from "/static/session.js";
import { cell, errorBox, figure, headerCell, period, row, signInLink, words } from "/static/mrv_common.js";

const KNOWN = new Set([
  "ok",
  "entity_id",
  "year",
  "entity",
  "chain",
  "parameters",
  "alerts",
  "cases",
  "report",
  "verification",
  "edges",
  "gaps",
]);
const parameter_rows_max = 5000;
const generic_columns_max = 12;
const compact_text_max = 160;

const form = document.getElementById("trace-form");
const errors = errorBox(document.getElementById("trace-error"));
const statusLine = document.getElementById("trace-status");
const filter = document.getElementById("parameters-filter");

// --- generic drawing ------------------------------------------------------------------------------

// Tonnes and other figures get thousands separators; ids, years and months stay as they are.
function isFigure(key) {
  return /(tco2e|_t|^figure)$/.test(String(key));
}

function compact(value) {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) return value.join(", ");
  if (typeof value === "object") {
    const text = JSON.stringify(value);
    return text.length > compact_text_max ? `${text.slice(0, compact_text_max)}…` : text;
  }
  return value;
}

function valueCell(key, value) {
  if (typeof value === "boolean") return cell(value ? "yes" : "no");
  if (isFigure(key) && value !== null && typeof value !== "object") return cell(figure(value), "num");
  return cell(compact(value));
}

function note(text) {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = text;
  return p;
}

function columnsOf(items) {
  const columns = [];
  for (const item of items.slice(0, 50)) {
    for (const key of Object.keys(item)) {
      if (!columns.includes(key)) columns.push(key);
    }
  }
  return columns.slice(0, generic_columns_max);
}

// A list of objects as a table; `columns` chooses and orders them (default: every key seen).
function objectTable(items, columns) {
  const chosen = columns || columnsOf(items);
  const table = document.createElement("table");
  table.className = "data";
  const head = document.createElement("thead");
  const headRow = document.createElement("tr");
  for (const key of chosen) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = words(key);
    if (isFigure(key)) th.className = "num";
    headRow.append(th);
  }
  head.append(headRow);
  const body = document.createElement("tbody");
  for (const item of items) body.append(row(...chosen.map((key) => valueCell(key, item[key]))));
  table.append(head, body);
  const scroll = document.createElement("div");
  scroll.className = "table-scroll";
  scroll.append(table);
  return scroll;
}

function keyValueTable(object) {
  const table = document.createElement("table");
  table.className = "data";
  const body = document.createElement("tbody");
  for (const [key, value] of Object.entries(object)) body.append(row(headerCell(words(key)), valueCell(key, value)));
  table.append(body);
  const scroll = document.createElement("div");
  scroll.className = "table-scroll";
  scroll.append(table);
  return scroll;
}

// Any value of the answer, drawn from its shape.
function generic(value, emptyText) {
  if (value === null || value === undefined) return note(emptyText || "Nothing to show.");
  if (Array.isArray(value)) {
    if (value.length === 0) return note(emptyText || "None yet.");
    if (value.every((v) => v !== null && typeof v === "object" && !Array.isArray(v))) return objectTable(value);
    const list = document.createElement("ul");
    for (const item of value) {
      const li = document.createElement("li");
      li.textContent = String(compact(item));
      list.append(li);
    }
    return list;
  }
  if (typeof value === "object") return keyValueTable(value);
  const p = document.createElement("p");
  p.textContent = String(value);
  return p;
}

function put(id, ...nodes) {
  document.getElementById(id).replaceChildren(...nodes);
}

// --- the sections this page knows -----------------------------------------------------------------

function drawChain(data) {
  const rows = data.chain.map((stage) => {
    const parts = Object.entries(stage)
      .filter(([key]) => key !== "stage")
      .map(([key, value]) => `${words(key)}: ${isFigure(key) ? figure(value) : value === null ? "—" : value}`);
    return row(headerCell(words(stage.stage)), cell(parts.join(" · ")));
  });
  document.querySelector("#chain tbody").replaceChildren(...rows);
  const verified = data.verification ? data.verification.verified_emissions_tco2e : null;
  const reported = data.report ? data.report.emissions_tco2e : null;
  document.getElementById("trace-verified").textContent =
    verified === null || verified === undefined
      ? `No verified emissions yet${reported === null || reported === undefined ? "" : `; the annual report computes ${figure(reported)} t CO2e`}.`
      : `Verified emissions: ${figure(verified)} t CO2e (the compliance figure)` +
        (reported === null || reported === undefined ? "." : `; the annual report computes ${figure(reported)} t CO2e.`);
  const gaps = document.getElementById("gaps");
  if (data.gaps.length) {
    const list = document.createElement("ul");
    for (const gap of data.gaps) {
      const li = document.createElement("li");
      li.textContent = gap;
      list.append(li);
    }
    gaps.replaceChildren(document.createTextNode("Not traced:"), list);
  }
  gaps.hidden = data.gaps.length === 0;
}

function versionsText(versions) {
  return versions.map((v) => `v${v.version}: ${v.value}${v.reason ? ` (${v.reason})` : ""}`).join(" → ");
}

function drawParameters(data) {
  const seen = new Set();
  const lines = data.parameters.slice(0, parameter_rows_max);
  const rows = lines.map((line) => {
    const tr = row(
      cell(line.facility_id, "mono"),
      cell(period(data.year, line.month)),
      cell(line.parameter, "mono"),
      cell(line.value, "num"),
      cell(line.record_id, "mono"),
      cell(versionsText(line.versions)),
      cell(line.alerts.join(", "), "mono"),
      cell(line.cases.join(", "), "mono"),
    );
    // The report's lines link to their record: the first line of each record is its anchor.
    if (line.record_id && !seen.has(line.record_id)) {
      seen.add(line.record_id);
      tr.id = `record-${line.record_id}`;
    }
    tr.dataset.search = `${line.facility_id} ${period(data.year, line.month)} ${line.parameter}`.toLowerCase();
    return tr;
  });
  document.querySelector("#parameters tbody").replaceChildren(...rows);
  document.getElementById("parameters-empty").hidden = rows.length > 0;
  const more = document.getElementById("parameters-more");
  more.hidden = data.parameters.length <= parameter_rows_max;
  more.textContent = `Showing the first ${parameter_rows_max} of ${data.parameters.length} lines; filter or use the CLI for all.`;
  applyFilter();
}

function applyFilter() {
  const wanted = filter.value.trim().toLowerCase();
  for (const tr of document.querySelectorAll("#parameters tbody tr")) {
    tr.hidden = Boolean(wanted) && !tr.dataset.search.includes(wanted);
  }
}

function drawReport(report) {
  const total = document.getElementById("report-total");
  if (!report) {
    total.textContent = "No annual report can be computed yet (see what was not traced, above).";
    put("report-body");
    return;
  }
  total.textContent = `${figure(report.emissions_tco2e)} t CO2e (exact ${report.emissions_exact_tco2e}, rounded once).`;
  const lines = objectTable(report.lines || [], ["record_id", "facility_id", "month", "source", "gas", "tco2e", "in_total"]);
  const rest = Object.fromEntries(Object.entries(report).filter(([key]) => !["lines", "ok"].includes(key)));
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "Everything else in the report (facilities, months, defaults used, rounding)";
  details.append(summary, keyValueTable(rest));
  put("report-body", lines, details);
}

function drawVerification(verification) {
  const head = document.createElement("p");
  head.textContent = verification.current
    ? `Accepted verification ${verification.current}: ${figure(verification.verified_emissions_tco2e)} t CO2e.`
    : "No accepted verification yet.";
  const rows = verification.verifications.map((v) => ({ ...v, nonconformities: v.nonconformities.length }));
  const table = generic(rows, "No verification was assigned for this year.");
  const rest = Object.fromEntries(
    Object.entries(verification).filter(([key]) => !["verifications", "current", "verified_emissions_tco2e"].includes(key)),
  );
  put("verification-body", head, table, ...(Object.keys(rest).length ? [keyValueTable(rest)] : []));
}

function drawMore(data) {
  const sections = [];
  for (const [key, value] of Object.entries(data)) {
    if (KNOWN.has(key)) continue;
    const section = document.createElement("section");
    section.dataset.section = key;
    const heading = document.createElement("h2");
    heading.textContent = words(key).replace(/^./, (c) => c.toUpperCase());
    section.append(heading, generic(value, `No ${words(key)} figure uses this year's data yet.`));
    sections.push(section);
  }
  put("more-sections", ...sections);
}

function draw(data) {
  document.getElementById("trace-title").textContent = `${data.entity_id} ${data.year}`;
  drawChain(data);
  put("entity-body", generic(data.entity, "The roster does not list this entity."));
  drawParameters(data);
  put(
    "alerts-body",
    data.alerts.length
      ? objectTable(data.alerts, ["alert_id", "record_id", "rule_id", "severity", "parameter", "status", "case", "message"])
      : note("The validation model raised no alert."),
  );
  put(
    "cases-body",
    data.cases.length
      ? objectTable(data.cases.map((c) => ({ ...c, alerts: c.alerts.length })))
      : note("No review case."),
  );
  drawReport(data.report);
  drawVerification(data.verification);
  drawMore(data);
  put("edges-body", generic(data.edges, "No link yet."));
  document.getElementById("edges-summary").textContent = `The chain as ${data.edges.length} links between nodes`;
  document.getElementById("trace-result").hidden = false;
  // Opened from a report line: scroll to that record's parameters.
  if (window.location.hash) {
    const target = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    if (target) {
      target.classList.add("highlight");
      target.scrollIntoView();
    }
  }
}

async function load(entity, year) {
  errors.hide();
  statusLine.textContent = `Tracing ${entity} ${year}…`;
  try {
    const answer = await apiGet(`/api/mrv/trace/${encodeURIComponent(entity)}/${encodeURIComponent(year)}`);
    if (answer.status !== 200) {
      statusLine.textContent = "";
      errors.explain(answer.status, answer.body);
      return;
    }
    statusLine.textContent = "";
    draw(answer.body);
  } catch {
    statusLine.textContent = "";
    errors.show("The trace could not be fetched. Try again in a moment.");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const entity = form.elements.entity.value.trim();
  const year = form.elements.year.value.trim();
  if (!entity || !/^\d{4}$/.test(year)) {
    errors.show("Give the entity id and a four-digit year.");
    return;
  }
  // Keep the address shareable: the query names what is traced.
  const query = `?entity=${encodeURIComponent(entity)}&year=${year}`;
  window.history.replaceState(null, "", `${window.location.pathname}${query}`);
  load(entity, year);
});

filter.addEventListener("input", applyFilter);

if (!currentSession()) {
  errors.show("Sign in as a regulator, reviewer or verifier to trace an entity's data.", signInLink("Sign in"));
} else if (form.elements.entity.value.trim() && /^\d{4}$/.test(form.elements.year.value.trim())) {
  load(form.elements.entity.value.trim(), form.elements.year.value.trim());
}

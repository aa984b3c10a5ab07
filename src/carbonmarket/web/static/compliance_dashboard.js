// A province's compliance risk dashboard: entities by risk level, the ones that still owe with their
// cover, and deadline alerts, from /api/compliance/years/<year>/risk with the signed-in user's token.
import { apiGet, clearSession, currentSession, formatQuantity } from "/static/session.js";

const summary = document.getElementById("dashboard-summary");
const errorBox = document.getElementById("dashboard-error");
const pick = document.getElementById("dashboard-pick");
const yearField = document.getElementById("dashboard-year");
const LEVELS = ["critical", "high", "medium", "low", "none"];

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

function option(value, text) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

// Each load is numbered: when the year is changed before the last answer has come back, only the
// latest load draws the page, so a slow answer for another year never overwrites it.
let loads = 0;

async function load() {
  errorBox.hidden = true;
  const params = new URLSearchParams(window.location.search);
  const province = params.get("province");
  const query = province ? `?province=${encodeURIComponent(province)}` : "";
  const number = ++loads;
  const { status, body } = await apiGet(`/api/compliance/years/${yearField.value}/risk${query}`);
  if (number !== loads) return;
  if (status !== 200) {
    if (status === 401) clearSession();
    showError(body.message || `The server answered HTTP ${status}.`);
    return;
  }
  const where = body.province || "the whole country";
  summary.textContent =
    `${body.entities} covered entities in ${where}, compliance year ${body.year}, due by ${body.deadline} ` +
    `(${body.days_to_deadline} days). ` +
    (body.price_fen ? `Funds counted at CNY ${formatQuantity(body.price_fen, "CNY")} per tonne.` : "Funds are not counted: no price yet.");
  document.getElementById("levels").replaceChildren(
    ...LEVELS.map((level) => {
      const box = document.createElement("div");
      box.className = `stat risk-${level}`;
      const label = document.createElement("span");
      label.className = "stat-label";
      label.textContent = level === "none" ? "nothing owed" : level;
      const value = document.createElement("span");
      value.className = "stat-value";
      value.dataset.level = level;
      value.textContent = formatQuantity(body.by_level[level]);
      box.append(label, value);
      return box;
    }),
  );
  const t = body.thresholds_percent;
  document.getElementById("levels-note").textContent =
    `Cover = (eligible allowances held + funds at the price) ÷ what is still owed: low ≥ ${t.low}%, ` +
    `medium ≥ ${t.medium}%, high ≥ ${t.high}%, critical below.`;
  document.getElementById("levels-section").hidden = false;
  const alerts = document.querySelector("#alerts tbody");
  alerts.replaceChildren(
    ...body.alerts.map((a) => {
      const tr = document.createElement("tr");
      tr.append(cell(a.entity_id, "mono"), cell(formatQuantity(a.owed_t), "num"), cell(a.days_to_deadline, "num"), cell(a.level));
      return tr;
    }),
  );
  document.getElementById("alerts-section").hidden = body.alerts.length === 0;
  const rows = document.querySelector("#risk tbody");
  rows.replaceChildren(
    ...body.rows.map((r) => {
      const tr = document.createElement("tr");
      tr.className = `risk-${r.level}`;
      tr.append(
        cell(r.entity_id, "mono"),
        cell(formatQuantity(r.owed_t), "num"),
        cell(formatQuantity(r.holdings_t), "num"),
        cell(formatQuantity(r.pending_t), "num"),
        cell(formatQuantity(r.funds_fen, "CNY"), "num"),
        cell(r.cover_percent === null ? "—" : `${r.cover_percent}%`, "num"),
        cell(r.level),
      );
      return tr;
    }),
  );
  document.getElementById("risk-empty").hidden = body.rows.length > 0;
  document.getElementById("risk-section").hidden = false;
}

async function start() {
  if (!currentSession()) {
    summary.textContent = "Sign in as a provincial authority or the regulator to see compliance risk.";
    showError("You are not signed in.");
    return;
  }
  const years = await apiGet("/api/compliance/years");
  const list = years.body.years || [];
  yearField.replaceChildren(...list.map((y) => option(String(y.year), `${y.year} (${y.status.replaceAll("_", " ")})`)));
  const open = list.find((y) => y.status === "open") || list[list.length - 1];
  if (open) yearField.value = String(open.year);
  pick.hidden = false;
  yearField.addEventListener("change", load);
  await load();
}

start();

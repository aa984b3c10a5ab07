// The monthly data entry page: check the month against the validation model as it is typed
// (POST /api/mrv/records/check, a dry run that saves nothing), then submit it (POST /api/mrv/records).
import { clearSession, currentSession, readJson } from "/static/session.js";

const CHECK_DELAY_MS = 300;

const form = document.getElementById("entry-form");
const sectorSelect = document.getElementById("sector");
const kindSelect = document.getElementById("kind");
const reasonField = document.getElementById("reason-field");
const submitButton = document.getElementById("entry-submit");
const errorBox = document.getElementById("entry-error");
const status = document.getElementById("check-status");
const estimate = document.getElementById("estimate");
const problemsBox = document.getElementById("problems");
const findingsBox = document.getElementById("findings-box");
const findingsBody = document.querySelector("#findings tbody");
const resultSection = document.getElementById("result-section");
const result = document.getElementById("result");

let checkTimer = null;
// Only the newest check may paint the page: an older answer arriving late would show stale findings.
let checkSequence = 0;
// The command id of the body last submitted: sending the same body again reuses it, so a retry after a
// lost answer returns the first result instead of a refusal (rule 4).
let lastSubmission = { body: null, id: null };

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

function hideError() {
  errorBox.hidden = true;
}

async function postJson(path, body) {
  const session = currentSession();
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return readJson(await fetch(path, { method: "POST", headers, body: JSON.stringify(body) }));
}

function activeFieldset() {
  return form.querySelector(`fieldset[data-sector="${sectorSelect.value}"]`);
}

// The month as the API reads it; empty fields are left out (optional parameters then take defaults).
function currentMonth() {
  const [year, month] = (form.period.value || "").split("-").map((part) => Number.parseInt(part, 10));
  const values = {};
  for (const input of activeFieldset().querySelectorAll("input[data-parameter]")) {
    const text = input.value.trim();
    if (text) values[input.dataset.parameter] = text;
  }
  const evidence = {};
  for (const input of form.querySelectorAll("input[data-evidence]")) {
    const text = input.value.trim();
    if (text) evidence[input.dataset.evidence] = text;
  }
  return {
    entity_id: form.entity_id.value.trim(),
    facility_id: form.facility_id.value.trim(),
    sector: sectorSelect.value,
    year: Number.isFinite(year) ? year : 0,
    month: Number.isFinite(month) ? month : 0,
    values,
    evidence,
  };
}

function ready(body) {
  return body.entity_id && body.facility_id && body.year > 0 && body.month > 0;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderProblems(problems) {
  problemsBox.replaceChildren();
  if (!problems.length) {
    problemsBox.hidden = true;
    return;
  }
  const list = document.createElement("ul");
  for (const problem of problems) {
    const item = document.createElement("li");
    item.textContent = problem.message;
    list.append(item);
  }
  problemsBox.append(list);
  problemsBox.hidden = false;
}

function renderFindings(findings) {
  findingsBody.replaceChildren();
  for (const finding of findings) {
    const tr = document.createElement("tr");
    tr.append(
      cell(finding.severity, finding.severity === "error" ? "out" : ""),
      cell(finding.rule_id, "mono"),
      cell(finding.parameter || "—", "mono"),
      cell(finding.message),
    );
    findingsBody.append(tr);
  }
  findingsBox.hidden = findings.length === 0;
}

function renderCheck(answer) {
  renderProblems(answer.problems || []);
  renderFindings(answer.findings || []);
  if (answer.estimate_tco2e !== null && answer.estimate_tco2e !== undefined) {
    estimate.textContent = `This month alone: about ${answer.estimate_tco2e} t CO2e (the annual report applies the year's rules).`;
    estimate.hidden = false;
  } else {
    estimate.hidden = true;
  }
  const notes = [];
  if (answer.submitted_version) {
    notes.push(
      `This month was already submitted (version ${answer.submitted_version}): choose "a correction" and give a reason.`,
    );
  }
  if (answer.plan_deviations && answer.plan_deviations.length) notes.push(...answer.plan_deviations);
  const count = (answer.findings || []).length;
  if (!answer.valid) {
    notes.unshift("Not acceptable yet: fix the problems or errors listed.");
  } else if (count) {
    notes.unshift(`Acceptable; ${count} finding${count === 1 ? "" : "s"} will go to review.`);
  } else {
    notes.unshift("Acceptable: no findings.");
  }
  status.textContent = notes.join(" ");
}

async function runCheck() {
  const body = currentMonth();
  if (!ready(body)) {
    status.textContent = "Fill in the entity, facility and month; the form is checked as you type.";
    return;
  }
  const sequence = ++checkSequence;
  status.textContent = "Checking…";
  try {
    const { status: code, body: answer } = await postJson("/api/mrv/records/check", body);
    if (sequence !== checkSequence) return;
    if (code === 401) {
      clearSession();
      showError("Your session has ended.", signInLink("Sign in again"));
      return;
    }
    if (code !== 200) {
      status.textContent = answer.message || `The check answered HTTP ${code}.`;
      return;
    }
    hideError();
    renderCheck(answer);
  } catch {
    if (sequence === checkSequence) status.textContent = "The check could not reach the server; it will retry on the next change.";
  }
}

function scheduleCheck() {
  resultSection.hidden = true;
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, CHECK_DELAY_MS);
}

function commandId(body) {
  const text = JSON.stringify(body);
  if (lastSubmission.body !== text) {
    lastSubmission = { body: text, id: `entry-${crypto.randomUUID()}` };
  }
  return lastSubmission.id;
}

function explainRefusal(code, answer) {
  const details = answer.details || {};
  if (code === 401) {
    clearSession();
    showError("Your session has ended.", signInLink("Sign in again"));
    return;
  }
  if (code === 403) {
    showError(answer.message || "You may not submit monthly data.");
    return;
  }
  showError(answer.message || `The submission was refused (HTTP ${code}).`);
  if (details.problems) renderProblems(details.problems);
  if (details.findings) renderFindings(details.findings);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  hideError();
  const month = currentMonth();
  if (!ready(month)) {
    showError("Fill in the entity, facility and month first.");
    return;
  }
  const correction = kindSelect.value === "correction";
  const body = { ...month, correct: correction, reason: correction ? form.reason.value.trim() : "" };
  body.id = commandId(body);
  submitButton.disabled = true;
  try {
    const { status: code, body: answer } = await postJson("/api/mrv/records", body);
    if (code !== 200 && code !== 201) {
      explainRefusal(code, answer);
      return;
    }
    const findings = answer.findings || [];
    result.textContent =
      `${answer.result === "exists" ? "Already recorded" : "Recorded"} as ${answer.record_id} ` +
      `(version ${answer.version}${answer.supersedes ? `, superseding ${answer.supersedes}` : ""}); ` +
      `${findings.length} finding${findings.length === 1 ? "" : "s"} sent to review.`;
    resultSection.hidden = false;
    renderFindings(findings);
  } catch {
    showError("The server could not be reached. Submitting again is safe: the same month is not recorded twice.");
  } finally {
    submitButton.disabled = false;
  }
});

sectorSelect.addEventListener("change", () => {
  for (const fieldset of form.querySelectorAll("fieldset[data-sector]")) {
    fieldset.hidden = fieldset.dataset.sector !== sectorSelect.value;
  }
  scheduleCheck();
});

kindSelect.addEventListener("change", () => {
  reasonField.hidden = kindSelect.value !== "correction";
});

form.addEventListener("input", scheduleCheck);

// Start on last month: data of a month is deposited after it ends (within 40 days, ST §10.2.1).
function previousMonth() {
  const now = new Date();
  const date = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}`;
}

form.period.value = previousMonth();
if (!currentSession()) {
  showError("Sign in to check and submit monthly data.", signInLink("Sign in"));
}

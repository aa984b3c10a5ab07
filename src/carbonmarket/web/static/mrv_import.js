// The import page: upload a monthly-data file (POST /api/mrv/records/imports) or a roster file
// (POST /api/mrv/roster/imports) with the user's token, then show what was kept and what was not.
import { currentSession } from "/static/session.js";
import { apiUpload, cell, count, errorBox, fillTable, figure, headerCell, period, row, signInLink, words } from "/static/mrv_common.js";

const errors = errorBox(document.getElementById("import-error"));
const statusLine = document.getElementById("import-status");
const monthlyForm = document.getElementById("monthly-form");
const rosterForm = document.getElementById("roster-form");
const correctBox = document.getElementById("monthly-correct");
const reasonField = document.getElementById("monthly-reason-field");

function chosenFile(input) {
  return input.files && input.files.length > 0 ? input.files[0] : null;
}

// "exists": this very file (with these options) was imported before; the answer is that first result.
function replayNote(body) {
  return body.result === "exists" ? " This file was imported before: these are the first import's figures." : "";
}

function monthlySummary(body) {
  const alerts = body.records.reduce((count, record) => count + record.findings.length, 0);
  const format = body.encoding ? `${body.format}, ${body.encoding}` : body.format;
  return (
    `${count(body.rows, "row")} read (${format}): ${body.accepted} accepted, ${body.rejected.length} ` +
    `rejected, ${count(alerts, "alert")} raised.${replayNote(body)}`
  );
}

function showMonthly(body) {
  document.getElementById("monthly-summary").textContent = monthlySummary(body);
  fillTable(
    "monthly-rejected",
    "monthly-rejected-empty",
    body.rejected.map((r) =>
      row(
        headerCell(r.row, "num"),
        cell(r.entity_id, "mono"),
        cell(r.facility_id, "mono"),
        cell(r.year ? period(r.year, r.month) : null),
        cell(r.parameter, "mono"),
        cell(words(r.code)),
        cell(r.reason),
      ),
    ),
  );
  const alertRows = [];
  for (const record of body.records) {
    for (const finding of record.findings) {
      alertRows.push(
        row(
          headerCell(record.row, "num"),
          cell(record.record_id, "mono"),
          cell(finding.rule_id, "mono"),
          cell(finding.severity),
          cell(finding.parameter, "mono"),
          cell(finding.message),
        ),
      );
    }
  }
  fillTable("monthly-alerts", "monthly-alerts-empty", alertRows);
  document.getElementById("monthly-result").hidden = false;
}

function rosterSummary(body) {
  const years = body.years.length ? `years ${body.years[0]}–${body.years[body.years.length - 1]}` : "no years";
  return (
    `${body.layout} layout (${body.encoding}), ${years}, ${figure(body.values_stored)} figures stored. ` +
    `For ${body.year} at ${figure(body.threshold_t)} t: ${count(body.rows, "row")}, ${body.included} included ` +
    `(${figure(body.included_t)} t), ${body.excluded} below the threshold, ${body.rejected.length} rejected.` +
    replayNote(body)
  );
}

function showRoster(body) {
  document.getElementById("roster-summary").textContent = rosterSummary(body);
  fillTable(
    "roster-rejected",
    "roster-rejected-empty",
    body.rejected.map((r) => row(headerCell(r.row, "num"), cell(r.entity, "mono"), cell(r.reason))),
  );
  document.getElementById("roster-result").hidden = false;
}

async function upload(form, path, fill, build) {
  errors.hide();
  statusLine.textContent = "";
  if (!currentSession()) {
    errors.show("Sign in to import files.", signInLink("Sign in"));
    return;
  }
  const input = form.querySelector("input[type=file]");
  const file = chosenFile(input);
  if (!file) {
    errors.show("Choose a file first.");
    input.focus();
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  const problem = build(data);
  if (problem) {
    errors.show(problem);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  statusLine.textContent = `Importing ${file.name}…`;
  try {
    const answer = await apiUpload(path, data);
    if (answer.status === 200 || answer.status === 201) {
      statusLine.textContent = `${file.name}: ${answer.body.result === "exists" ? "imported before" : "imported"}.`;
      fill(answer.body);
    } else {
      statusLine.textContent = `${file.name} was not imported; nothing of it was kept.`;
      errors.explain(answer.status, answer.body);
    }
  } catch {
    statusLine.textContent = "";
    errors.show("The server could not be reached. Try again in a moment.");
  } finally {
    button.disabled = false;
  }
}

correctBox.addEventListener("change", () => {
  reasonField.hidden = !correctBox.checked;
});

monthlyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  upload(monthlyForm, "/api/mrv/records/imports", showMonthly, (data) => {
    if (correctBox.checked) {
      const reason = monthlyForm.elements.reason.value.trim();
      if (!reason) return "Say why the months are corrected: a reason is kept with each new version.";
      data.append("correct", "true");
      data.append("reason", reason);
    }
    return null;
  });
});

// Whole numbers only; the server checks them again and refuses them in its own words.
function wholeNumber(text) {
  return /^\d+$/.test(text.replaceAll(",", ""));
}

rosterForm.addEventListener("submit", (event) => {
  event.preventDefault();
  upload(rosterForm, "/api/mrv/roster/imports", showRoster, (data) => {
    const year = rosterForm.elements.year.value.trim();
    const threshold = rosterForm.elements.threshold.value.trim();
    if (year && !wholeNumber(year)) return `The year must be a whole number, not "${year}".`;
    if (threshold && !wholeNumber(threshold)) return `The threshold must be whole tonnes, not "${threshold}".`;
    if (year) data.append("year", year);
    if (threshold) data.append("threshold", threshold.replaceAll(",", ""));
    return null;
  });
});

if (!currentSession()) {
  errors.show("Sign in as a reviewer, regulator or entity representative to import files.", signInLink("Sign in"));
}

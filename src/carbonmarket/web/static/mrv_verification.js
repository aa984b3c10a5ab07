// The verification console: a verifier's assignments (start, raise and close nonconformities, submit
// the verified emissions), a regulator's acceptance, assignment and register view, and the entity's
// annual report whose lines lead to the monthly records. Every refusal is shown in the server's words.
import { apiGet, currentSession } from "/static/session.js";
import {
  apiPost,
  cell,
  commandId,
  errorBox,
  figure,
  fillTable,
  headerCell,
  link,
  row,
  signInLink,
  words,
} from "/static/mrv_common.js";

const API = "/api/mrv/verification";
const errors = errorBox(document.getElementById("ver-error"));
const summary = document.getElementById("ver-summary");
const statusLine = document.getElementById("ver-status");
const statusFilter = document.getElementById("assignments-status");
let current = null; // the verification open in the detail section

function role() {
  const session = currentSession();
  return session ? session.role : null;
}

function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

// --- the list of assignments ----------------------------------------------------------------------

function describeRole(who) {
  switch (who) {
    case "verifier":
      return "You verify for your body: open an assignment to work on it.";
    case "regulator":
      return "You see every verification: assign bodies, accept or return submitted reports.";
    case "reviewer":
      return "You see every verification and may check streamlined eligibility.";
    default:
      return "The register of verification bodies and their published evaluation are public.";
  }
}

async function loadAssignments() {
  const status = statusFilter.value;
  const answer = await apiGet(`${API}/verifications?limit=200${status ? `&status=${encodeURIComponent(status)}` : ""}`);
  if (answer.status !== 200) {
    errors.explain(answer.status, answer.body);
    return;
  }
  const rows = answer.body.verifications.map((v) => {
    const open = document.createElement("button");
    open.type = "button";
    open.className = "inline-button";
    open.textContent = "Open";
    open.dataset.verification = v.verification;
    open.addEventListener("click", () => {
      chosen += 1;
      openVerification(v.verification);
    });
    const action = document.createElement("td");
    action.append(open);
    return row(
      headerCell(v.verification, "mono"),
      cell(v.entity_id, "mono"),
      cell(v.year),
      cell(v.body, "mono"),
      cell(v.mode),
      cell(words(v.status)),
      cell(v.deadline),
      cell(figure(v.reported_emissions_tco2e), "num"),
      cell(figure(v.verified_emissions_tco2e), "num"),
      action,
    );
  });
  fillTable("assignments", "assignments-empty", rows);
  show("assignments-section", true);
}

// --- one verification -----------------------------------------------------------------------------

function facts(v) {
  const pairs = [
    ["Entity", v.entity_id],
    ["Year", v.year],
    ["Body", v.body],
    ["Mode", v.mode],
    ["Status", words(v.status)],
    ["Deadline", v.deadline],
    ["Reported emissions, t CO2e", figure(v.reported_emissions_tco2e)],
    ["Verified emissions, t CO2e", figure(v.verified_emissions_tco2e)],
    ["Returned for rework", v.returns],
    ["Accepted by", v.accepted_by ? `${v.accepted_by} at ${String(v.accepted_at).slice(0, 16).replace("T", " ")}` : null],
    ["Reason", v.reason],
  ];
  return pairs.map(([name, value]) => row(headerCell(name), cell(value)));
}

function closeControl(nc) {
  const td = document.createElement("td");
  if (nc.status !== "open") return td;
  const input = document.createElement("input");
  input.id = `closure-${nc.nonconformity}`;
  input.className = "closure-input";
  input.placeholder = "Corrective action taken";
  input.setAttribute("aria-label", `Corrective action for ${nc.nonconformity}`);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "inline-button";
  button.textContent = "Close";
  button.dataset.nonconformity = nc.nonconformity;
  button.addEventListener("click", () => closeNonconformity(nc.nonconformity, input.value.trim()));
  td.append(input, " ", button);
  return td;
}

function renderNonconformities(list) {
  fillTable(
    "nonconformities",
    "nonconformities-empty",
    list.map((nc) =>
      row(
        headerCell(nc.nonconformity, "mono"),
        cell(nc.parameter, "mono"),
        cell(nc.month),
        cell(nc.description),
        cell(words(nc.status)),
        cell(nc.closure),
        closeControl(nc),
      ),
    ),
  );
}

function working(line) {
  return line.inputs.map((input) => `${input.value} ${input.unit === "1" ? "" : input.unit}`.trim()).join(" × ");
}

async function loadReport(v) {
  const total = document.getElementById("report-total");
  const answer = await apiGet(`/api/mrv/records/${encodeURIComponent(v.entity_id)}/${v.year}/report`);
  if (v !== current) return; // another verification was opened meanwhile
  if (answer.status !== 200) {
    total.textContent = `No annual report: ${answer.body.message || `HTTP ${answer.status}`}`;
    fillTable("report-lines", "report-lines-empty", []);
    document.getElementById("reported-note").textContent = "";
    return;
  }
  const report = answer.body;
  total.textContent =
    `${figure(report.emissions_tco2e)} t CO2e reported (exact ${report.emissions_exact_tco2e}, ` +
    `rounded once; GWP ${report.gwp_version}).`;
  document.getElementById("reported-note").textContent =
    `The annual report computes ${figure(report.emissions_tco2e)} t CO2e; the verified figure is kept beside it.`;
  const trace = `/mrv/trace?entity=${encodeURIComponent(v.entity_id)}&year=${v.year}`;
  const rows = report.lines.map((line) => {
    const record = document.createElement("th");
    record.scope = "row";
    record.append(link(`${trace}#record-${encodeURIComponent(line.record_id)}`, line.record_id, "mono"));
    return row(
      record,
      cell(line.source),
      cell(line.gas),
      cell(working(line), "mono"),
      cell(figure(line.tco2e), "num"),
      cell(line.in_total ? "yes" : "beside the total"),
    );
  });
  fillTable("report-lines", "report-lines-empty", rows);
}

// Each opening is numbered: when a person opens another verification before the last answer has
// come back, only the latest opening draws the detail, so a slow answer never overwrites it.
let openings = 0;
// Verifications the person opened by hand. A step (assign, accept, ...) reopens what it worked on
// when its answer comes back, unless the person has opened another one meanwhile: the page never
// takes them away from what they chose.
let chosen = 0;

async function openVerification(verificationId) {
  errors.hide();
  const opening = ++openings;
  const answer = await apiGet(`${API}/verifications/${encodeURIComponent(verificationId)}`);
  if (opening !== openings) return;
  if (answer.status !== 200) {
    errors.explain(answer.status, answer.body);
    return;
  }
  const v = answer.body;
  current = v;
  document.getElementById("detail-id").textContent = v.verification;
  document.querySelector("#detail-facts tbody").replaceChildren(...facts(v));
  document.getElementById("detail-trace").href = `/mrv/trace?entity=${encodeURIComponent(v.entity_id)}&year=${v.year}`;
  renderNonconformities(v.nonconformities);
  const who = role();
  // The verifier's steps stay on the page whatever the status: a step out of order is refused by the
  // server, and the refusal's words tell the verifier what must come first.
  show("verifier-actions", who === "verifier");
  show("submit-actions", who === "verifier");
  show("regulator-actions", who === "regulator");
  show("detail-section", true);
  await loadReport(v);
}

// --- steps ----------------------------------------------------------------------------------------

// Runs a write; returns, on success, whether the page may still open things for the person (they
// did not open another verification while it ran).
async function step(path, body, done) {
  errors.hide();
  const chosenBefore = chosen;
  const answer = await apiPost(path, body);
  if (answer.status === 200 || answer.status === 201) {
    statusLine.textContent = done(answer.body);
    await loadAssignments();
    if (chosen !== chosenBefore) return { ok: true, mayOpen: false };
    if (current) await openVerification(current.verification);
    return { ok: true, mayOpen: chosen === chosenBefore };
  }
  errors.explain(answer.status, answer.body);
  return { ok: false, mayOpen: false };
}

function needCurrent() {
  if (!current) errors.show("Open a verification first.");
  return current;
}

async function closeNonconformity(ncId, closure) {
  if (!closure) {
    errors.show("Say what corrective action was taken before closing the nonconformity.");
    return;
  }
  await step(`${API}/nonconformities/${encodeURIComponent(ncId)}/close`, { id: commandId("close"), closure }, () => `${ncId} closed.`);
}

document.getElementById("start-button").addEventListener("click", async () => {
  const v = needCurrent();
  if (!v) return;
  await step(`${API}/verifications/${encodeURIComponent(v.verification)}/start`, { id: commandId("start") }, (b) => `${v.verification}: ${words(b.status || "in_progress")}.`);
});

document.getElementById("nc-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const v = needCurrent();
  if (!v) return;
  const form = event.target;
  const description = form.elements.description.value.trim();
  const parameter = form.elements.parameter.value.trim();
  const month = form.elements.month.value.trim();
  if (!description) {
    errors.show("Describe what does not conform.");
    return;
  }
  if (month && !/^\d+$/.test(month)) {
    errors.show(`The month must be a whole number from 1 to 12, not "${month}".`);
    return;
  }
  const body = { id: commandId("nc"), description };
  if (parameter) body.parameter = parameter;
  if (month) body.month = Number.parseInt(month, 10);
  const done = await step(`${API}/verifications/${encodeURIComponent(v.verification)}/nonconformities`, body, (b) => `Nonconformity ${b.nonconformity || body.id} raised.`);
  if (done.ok) form.reset();
});

document.getElementById("submission-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const v = needCurrent();
  if (!v) return;
  const form = event.target;
  const verified = form.elements.verified.value.trim().replaceAll(",", "").replaceAll(" ", "");
  const sha = form.elements.sha256.value.trim();
  if (!verified) {
    errors.show("Give the verified emissions in whole tonnes of CO2e.");
    return;
  }
  const body = { id: commandId("submit"), verified_emissions: verified };
  if (sha) body.report_sha256 = sha;
  await step(`${API}/verifications/${encodeURIComponent(v.verification)}/submit`, body, () => `${v.verification}: submitted with ${figure(verified)} t CO2e.`);
});

function decision(action, needsReason) {
  return async () => {
    const v = needCurrent();
    if (!v) return;
    const reason = document.getElementById("decision-reason").value.trim();
    if (needsReason && !reason) {
      errors.show("Give the reason: it is kept with the verification.");
      return;
    }
    const body = needsReason ? { id: commandId(action), reason } : { id: commandId(action) };
    await step(`${API}/verifications/${encodeURIComponent(v.verification)}/${action}`, body, (b) => `${v.verification}: ${words(b.status || action)}.`);
  };
}

document.getElementById("accept-button").addEventListener("click", decision("accept", false));
document.getElementById("return-button").addEventListener("click", decision("return", true));
document.getElementById("cancel-button").addEventListener("click", decision("cancel", true));

document.getElementById("assign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const entity = form.elements.entity.value.trim();
  const year = form.elements.year.value.trim();
  const body = form.elements.body.value.trim();
  if (!entity || !/^\d{4}$/.test(year) || !body) {
    errors.show("Give the entity, a four-digit year and the body.");
    return;
  }
  const verificationId = `${entity}-${year}-${commandId("v").slice(2, 10)}`.slice(0, 64);
  const request = { id: verificationId, entity_id: entity, year: Number.parseInt(year, 10), body };
  if (form.elements.mode.value) request.mode = form.elements.mode.value;
  const done = await step(`${API}/verifications`, request, (b) => `${verificationId} assigned to ${body} (${b.mode || "mode by eligibility"}).`);
  if (done.mayOpen) openVerification(verificationId);
});

document.getElementById("eligibility-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  errors.hide();
  const form = event.target;
  const entity = form.elements.entity.value.trim();
  const year = form.elements.year.value.trim();
  if (!entity || !/^\d{4}$/.test(year)) {
    errors.show("Give the entity and a four-digit year.");
    return;
  }
  const answer = await apiGet(`${API}/eligibility/${encodeURIComponent(entity)}/${year}`);
  if (answer.status !== 200) {
    errors.explain(answer.status, answer.body);
    return;
  }
  const e = answer.body;
  document.getElementById("eligibility-verdict").textContent = e.eligible
    ? `${entity} may be verified the streamlined way for ${year}: clean in ${e.clean_years.join(", ")}.`
    : `${entity} needs full verification for ${year}.`;
  const reasons = e.reasons.map((reason) => {
    const li = document.createElement("li");
    li.textContent = reason;
    return li;
  });
  document.getElementById("eligibility-reasons").replaceChildren(...reasons);
  show("eligibility-result", true);
});

statusFilter.addEventListener("change", () => loadAssignments());

// --- the public register --------------------------------------------------------------------------

async function loadRegister() {
  const bodies = await apiGet(`${API}/bodies`);
  if (bodies.status === 200) {
    fillTable(
      "bodies",
      "bodies-empty",
      bodies.body.bodies.map((b) =>
        row(
          headerCell(b.body, "mono"),
          cell(b.name),
          cell(b.province),
          cell(words(b.status)),
          cell(b.qualified_at ? String(b.qualified_at).slice(0, 16).replace("T", " ") : null),
        ),
      ),
    );
  }
  const evaluation = await apiGet(`${API}/evaluations`);
  const note = document.getElementById("evaluation-note");
  if (evaluation.status !== 200) {
    note.textContent = evaluation.body.message || "No evaluation is published yet.";
    fillTable("evaluation", null, []);
    return;
  }
  const published = evaluation.body;
  note.textContent = `Evaluation of ${published.year}, published ${String(published.published_at).slice(0, 10)}; formula version ${published.formula.version}: ${published.formula.source}.`;
  fillTable(
    "evaluation",
    null,
    published.bodies.map((b) =>
      row(
        headerCell(b.body_id, "mono"),
        cell(b.name),
        cell(b.rated ? b.score : "not rated", "num"),
        cell(b.grade),
        cell(b.facts.verifications, "num"),
        cell(b.facts.on_time, "num"),
        cell(b.facts.first_pass, "num"),
        cell(b.facts.later_findings, "num"),
      ),
    ),
  );
}

async function load() {
  const who = role();
  summary.textContent = describeRole(who);
  try {
    await loadRegister();
    if (!who) {
      errors.show("Sign in as a verifier or regulator to see verifications.", signInLink("Sign in"));
      return;
    }
    show("eligibility-section", true);
    show("assign-section", who === "regulator");
    await loadAssignments();
    const wanted = new URLSearchParams(window.location.search).get("verification");
    if (wanted) await openVerification(wanted);
  } catch {
    errors.show("The verification service could not be reached. Try again in a moment.");
  }
}

load();

// The project owner's console: find the owners the signed-in user acts for (initiate right on
// <owner>-H), then list their projects, states and next steps from /api/ccer/owners/{owner}/console.
import { apiGet } from "/static/session.js";

const summary = document.getElementById("owner-summary");
const errorBox = document.getElementById("owner-error");
const table = document.getElementById("owner-projects");

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content === null || content === undefined ? "—" : String(content);
  return td;
}

function showError(text) {
  const link = document.createElement("a");
  link.href = `/login?next=${encodeURIComponent(window.location.pathname)}`;
  link.textContent = "Sign in";
  errorBox.replaceChildren(document.createTextNode(`${text} `), link);
  errorBox.hidden = false;
  summary.textContent = "";
}

async function load() {
  const me = await apiGet("/api/auth/me");
  if (!me.body.ok) {
    showError("Sign in as a project owner to see your projects.");
    return;
  }
  const owners = me.body.accounts
    .filter((a) => a.account.endsWith("-H") && a.rights.includes("initiate"))
    .map((a) => a.account.slice(0, -2));
  if (owners.length === 0) {
    showError(`${me.body.username} does not act for any project owner.`);
    return;
  }
  const rows = [];
  for (const owner of owners) {
    const { body } = await apiGet(`/api/ccer/owners/${encodeURIComponent(owner)}/console`);
    if (!body.ok) continue;
    for (const p of body.projects) {
      const link = document.createElement("a");
      link.href = `/ccer/projects/${encodeURIComponent(p.id)}`;
      link.textContent = `${p.id} ${p.name}`;
      const reports = p.reports.map((r) => `${r.id}: ${r.status.replaceAll("_", " ")} (next: ${r.next_step})`).join("; ");
      const tr = document.createElement("tr");
      tr.dataset.project = p.id;
      tr.append(cell(link), cell(p.methodology), cell(p.status.replaceAll("_", " ")), cell(p.next_step), cell(reports || "—"));
      rows.push(tr);
    }
  }
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  summary.textContent = rows.length
    ? `${rows.length} project(s) of ${owners.join(", ")}.`
    : `No project yet for ${owners.join(", ")}.`;
}

load();

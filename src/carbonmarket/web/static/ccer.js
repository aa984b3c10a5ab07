// The public CCER pages: search a serial number and send a comment during a disclosure, through /api/ccer.
import { apiGet, readJson } from "/static/session.js";

const grouping = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function commandId(prefix) {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now());
  return `${prefix}-${random}`.slice(0, 64);
}

function factRow(label, value) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = label;
  const td = document.createElement("td");
  td.textContent = value;
  tr.append(th, td);
  return tr;
}

const serialForm = document.getElementById("serial-form");
if (serialForm) {
  const input = document.getElementById("serial-input");
  const errorBox = document.getElementById("serial-error");
  const table = document.getElementById("serial-result");
  serialForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    table.hidden = true;
    const { body } = await apiGet(`/api/ccer/search?serial=${encodeURIComponent(input.value.trim())}`);
    if (!body.ok) {
      errorBox.textContent = body.message;
      errorBox.hidden = false;
      return;
    }
    const rows = [
      factRow("Serial", body.serial),
      factRow("Project", `${body.project} ${body.project_name} (${body.methodology})`),
      factRow("Vintage", String(body.vintage)),
      factRow("Monitoring period", `${body.monitoring_period[0]} to ${body.monitoring_period[1]}`),
      factRow("Issued block", `${body.issued_block[0]} – ${body.issued_block[1]}`),
      factRow("Held in", `${body.holder_account_type} account`),
      factRow("Status", body.retired ? `retired (${body.status})` : "in circulation"),
    ];
    if (body.certificate) {
      const c = body.certificate;
      rows.push(factRow("Certificate", `${c.certificate_id}: ${grouping.format(c.quantity)} t for ${c.beneficiary}, ${c.purpose}`));
    }
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = false;
  });
}

const commentForm = document.getElementById("comment-form");
if (commentForm) {
  const status = document.getElementById("comment-status");
  commentForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const author = document.getElementById("comment-author").value;
    const text = document.getElementById("comment-text").value;
    const request = {
      id: commandId("comment"),
      kind: commentForm.dataset.kind,
      subject: commentForm.dataset.subject,
      author,
      text,
    };
    const headers = { Accept: "application/json", "Content-Type": "application/json" };
    const { body } = await readJson(await fetch("/api/ccer/comments", { method: "POST", headers, body: JSON.stringify(request) }));
    if (!body.ok) {
      status.textContent = `Not sent: ${body.message}`;
      return;
    }
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = author;
    item.append(who, ` (today): ${text}`);
    document.getElementById("comments").append(item);
    const empty = document.getElementById("comments-empty");
    if (empty) empty.hidden = true;
    commentForm.reset();
    status.textContent = "Thank you: your comment is on the public record.";
  });
}

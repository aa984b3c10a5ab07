// The account page: fetch the account's balance and history with the user's token and show them.
import { apiGet, clearSession, currentSession, formatQuantity } from "/static/session.js";

const main = document.querySelector("[data-account]");
const account = main.dataset.account;
const summary = document.getElementById("account-summary");
const errorBox = document.getElementById("account-error");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
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
  summary.hidden = true;
  errorBox.replaceChildren(document.createTextNode(text));
  if (action) errorBox.append(" ", action);
  errorBox.hidden = false;
}

// Turn a refusal of the API into words for the person looking at the page.
function explain(status, body) {
  if (status === 401) {
    clearSession();
    showError("Your session has ended.", signInLink("Sign in again"));
  } else if (status === 403) {
    showError(`You are not allowed to view account ${account}. Ask a registry operator for a right on it.`);
  } else if (status === 404) {
    showError(`Account ${account} does not exist.`);
  } else {
    showError(body.message || `The registry answered HTTP ${status}.`);
  }
}

function renderBalance(data) {
  summary.textContent = `${data.holder_name} (${data.holder}) · ${data.type} account · ${data.status}`;
  const tbody = document.querySelector("#balances tbody");
  const instruments = Object.keys(data.balances).sort();
  for (const instrument of instruments) {
    const held = data.held[instrument] || 0;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = instrument;
    tbody.append(
      row(
        th,
        cell(formatQuantity(data.balances[instrument], instrument), "num"),
        cell(formatQuantity(held, instrument), "num"),
        cell(formatQuantity(data.available[instrument], instrument), "num"),
      ),
    );
  }
  document.getElementById("balances-empty").hidden = instruments.length > 0;
  document.getElementById("balances").hidden = instruments.length === 0;
  document.getElementById("balances-section").hidden = false;
}

function renderHistory(data) {
  const tbody = document.querySelector("#history tbody");
  for (const entry of data.entries) {
    const signed = (entry.quantity > 0 ? "+" : "") + formatQuantity(entry.quantity, entry.instrument);
    const when = String(entry.at).slice(0, 16).replace("T", " ");
    const kind = entry.reverses ? `${entry.kind} (reverses ${entry.reverses})` : entry.kind;
    tbody.append(
      row(
        cell(when),
        cell(entry.transaction, "mono"),
        cell(kind),
        cell(entry.instrument),
        cell(signed, entry.quantity < 0 ? "num out" : "num in"),
        cell(entry.counterparty, "mono"),
      ),
    );
  }
  document.getElementById("history-empty").hidden = data.entries.length > 0;
  document.getElementById("history").hidden = data.entries.length === 0;
  document.getElementById("history-section").hidden = false;

  const holds = document.querySelector("#holds tbody");
  for (const hold of data.pending_holds) {
    holds.append(
      row(
        cell(hold.hold, "mono"),
        cell(hold.kind),
        cell(hold.instrument),
        cell(formatQuantity(hold.quantity, hold.instrument), "num"),
        cell(hold.pledgee || "—", "mono"),
      ),
    );
  }
  document.getElementById("holds-section").hidden = data.pending_holds.length === 0;
}

async function load() {
  if (!currentSession()) {
    showError(`Sign in to see account ${account}.`, signInLink("Sign in"));
    return;
  }
  const path = `/api/registry/accounts/${encodeURIComponent(account)}`;
  try {
    const [balance, history] = await Promise.all([apiGet(`${path}/balance`), apiGet(`${path}/history?limit=100`)]);
    const failed = [balance, history].find((answer) => answer.status !== 200);
    if (failed) {
      explain(failed.status, failed.body);
      return;
    }
    renderBalance(balance.body);
    renderHistory(history.body);
  } catch {
    showError("The registry could not be reached. Try again in a moment.");
  }
}

load();

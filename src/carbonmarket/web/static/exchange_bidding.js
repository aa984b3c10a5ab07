// One-way bidding: list the sessions (with the signed-in member's own bids), send sealed bids, and —
// for the exchange operator — approve notices and clear sessions after their window.
import { apiGet, clearSession, currentSession, formatQuantity, readJson } from "/static/session.js";

const errorBox = document.getElementById("bidding-error");
const statusLine = document.getElementById("bidding-status");
const bidSection = document.getElementById("bid-section");
const bidForm = document.getElementById("bid-form");
const bidSession = document.getElementById("bid-session");
const bidAccount = document.getElementById("bid-account");
const bidRange = document.getElementById("bid-range");
const bidSubmit = document.getElementById("bid-submit");
const OPERATOR = "exchange_operator";
let sessions = [];

function cny(fen) {
  return fen === null || fen === undefined ? "—" : formatQuantity(fen, "CNY");
}

function tonnes(quantity) {
  return quantity === null || quantity === undefined ? "—" : formatQuantity(quantity, "t");
}

function words(text) {
  return String(text).replaceAll("_", " ");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function header(table, names) {
  const tr = document.createElement("tr");
  for (const [name, numeric] of names) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    if (numeric) th.className = "num";
    tr.append(th);
  }
  table.tHead.replaceChildren(tr);
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

// Each command carries an id of our choosing, so a retried request is recognised by the server.
function commandId(prefix) {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now());
  return `${prefix}-${random}`.slice(0, 64);
}

// "97.49" → 9749 fen, without floating point; null when it is not a price with at most two decimals.
function toFen(text) {
  const match = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

async function apiPost(path, body) {
  const session = currentSession();
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return readJson(await fetch(path, { method: "POST", headers, body: JSON.stringify(body) }));
}

function explain(status, body) {
  if (status === 401) {
    clearSession();
    showError("Your session has ended; sign in again.");
  } else {
    showError(body.message || `The server answered HTTP ${status}.`);
  }
}

function window_(s) {
  return `${s.opens_at.slice(0, 16)} – ${s.closes_at.slice(11, 16)} UTC`;
}

function range(s) {
  return s.bid_range_fen ? `${cny(s.bid_range_fen[0])} – ${cny(s.bid_range_fen[1])}` : "—";
}

function operatorButton(label, action, s) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "small-button";
  button.textContent = label;
  button.dataset.action = action;
  button.dataset.session = s.session;
  button.addEventListener("click", () => act(action, s.session, button));
  return button;
}

function actions(s) {
  const td = document.createElement("td");
  const session = currentSession();
  if (session && session.role === OPERATOR) {
    if (s.status === "applied") td.append(operatorButton("Approve and publish", "approve", s));
    if (s.status === "published" && s.phase === "closing") td.append(operatorButton("Close and clear", "close", s));
  }
  if (s.result) {
    const link = document.createElement("button");
    link.type = "button";
    link.className = "link-button result-link";
    link.textContent = "Result";
    link.addEventListener("click", () => showResult(s));
    td.append(link);
  }
  return td;
}

const COLUMNS = [
  ["Session"], ["Instrument"], ["Side"], ["Quantity (t)", true], ["Floor / cap", true], ["Bids between", true],
  ["Pricing"], ["Window"], ["Stage"], ["Bids", true], [""],
];

function sessionRow(s) {
  const tr = document.createElement("tr");
  tr.dataset.session = s.session;
  tr.append(
    cell(s.session, "mono"),
    cell(s.instrument),
    cell(s.side === "sell" ? "initiator sells" : "initiator buys"),
    cell(tonnes(s.quantity), "num"),
    cell(cny(s.limit_price_fen), "num"),
    cell(range(s), "num"),
    cell(words(s.price_mode)),
    cell(window_(s)),
    cell(words(s.phase), "phase"),
    cell(s.bids_received, "num"),
    actions(s),
  );
  return tr;
}

function fill(id, rows) {
  const table = document.getElementById(id);
  header(table, COLUMNS);
  table.tBodies[0].replaceChildren(...rows.map(sessionRow));
  document.getElementById(`${id}-empty`).hidden = rows.length > 0;
}

function showResult(s) {
  const result = s.result;
  document.getElementById("result-session").textContent = s.session;
  const stats = [
    ["Outcome", words(s.status)],
    ["Cleared (t)", tonnes(result.cleared_quantity)],
    ["Value (CNY)", cny(result.cleared_value_fen)],
    ["Average price", cny(result.average_price_fen)],
    ["Clearing price", cny(result.clearing_price_fen)],
  ];
  document.getElementById("result-stats").replaceChildren(
    ...stats.map(([label, value]) => {
      const box = document.createElement("div");
      box.className = "stat";
      const l = document.createElement("span");
      l.className = "stat-label";
      l.textContent = label;
      const v = document.createElement("span");
      v.className = "stat-value";
      v.textContent = value;
      box.append(l, v);
      return box;
    }),
  );
  const rank = new Map(result.ranking.map((id, index) => [id, index + 1]));
  const bids = [...result.bids].sort((a, b) => (rank.get(a.bid) || 1e9) - (rank.get(b.bid) || 1e9));
  document.querySelector("#result-bids tbody").replaceChildren(
    ...bids.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.bid = b.bid;
      tr.append(
        cell(rank.get(b.bid) || "—", "num"),
        cell(b.bid, "mono"),
        cell(cny(b.price_fen), "num"),
        cell(tonnes(b.quantity), "num"),
        cell(words(b.status)),
        cell(tonnes(b.awarded_quantity), "num"),
        cell(cny(b.awarded_price_fen), "num"),
      );
      return tr;
    }),
  );
  const ties = result.tie_breaks.length;
  document.getElementById("result-seed").textContent =
    `Tie-break seed ${result.seed}; ${ties} group${ties === 1 ? "" : "s"} of equal bids drawn. ${s.reason || ""}`;
  document.getElementById("result-section").hidden = false;
  document.getElementById("result-section").scrollIntoView({ block: "nearest" });
}

function fillMine() {
  const mine = sessions.flatMap((s) => s.my_bids.map((b) => ({ ...b, session: s.session })));
  document.getElementById("mine-section").hidden = mine.length === 0;
  document.querySelector("#my-bids tbody").replaceChildren(
    ...mine.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.bid = b.bid;
      tr.append(
        cell(b.session, "mono"),
        cell(b.bid, "mono"),
        cell(b.account),
        cell(cny(b.price_fen), "num"),
        cell(tonnes(b.quantity), "num"),
        cell(words(b.status), "bid-status"),
        cell(tonnes(b.awarded_quantity), "num"),
        cell(b.at.slice(11, 19), "num"),
      );
      return tr;
    }),
  );
}

async function fillBidForm(open) {
  const session = currentSession();
  if (!session || session.role === OPERATOR || open.length === 0) {
    bidSection.hidden = true;
    return;
  }
  const me = await apiGet("/api/auth/me");
  if (me.status !== 200) {
    explain(me.status, me.body);
    return;
  }
  const accounts = me.body.accounts.filter((a) => a.rights.includes("initiate")).map((a) => a.account);
  const chosen = bidSession.value;
  bidSession.replaceChildren(
    ...open.map((s) => new Option(`${s.session} — ${s.instrument}, ${tonnes(s.quantity)} t`, s.session)),
  );
  if (open.some((s) => s.session === chosen)) bidSession.value = chosen;
  bidAccount.replaceChildren(...accounts.map((a) => new Option(a, a)));
  describeRange();
  bidSection.hidden = accounts.length === 0;
}

function describeRange() {
  const s = sessions.find((x) => x.session === bidSession.value);
  bidRange.textContent = s
    ? `Bids between ${range(s)} CNY/t; at most ${tonnes(s.bidder_cap_t)} t per bidder. Funds for price × quantity plus the fee are held until clearing.`
    : "";
}

async function load() {
  const { status, body } = await apiGet("/api/market/bidding");
  if (status !== 200) {
    explain(status, body);
    statusLine.textContent = "";
    return;
  }
  sessions = body.sessions;
  const open = sessions.filter((s) => s.phase === "open");
  fill("sessions-open", open);
  fill("sessions-upcoming", sessions.filter((s) => ["applied", "upcoming"].includes(s.phase)));
  fill("sessions-closed", sessions.filter((s) => ["closing", "cleared", "cancelled", "rejected"].includes(s.phase)));
  fillMine();
  await fillBidForm(open);
  const who = currentSession();
  statusLine.textContent = who
    ? `${sessions.length} session${sessions.length === 1 ? "" : "s"}; signed in as ${who.username}.`
    : `${sessions.length} session${sessions.length === 1 ? "" : "s"}. Sign in to bid.`;
}

async function act(action, sessionId, button) {
  showError("");
  button.disabled = true;
  const { status, body } = await apiPost(`/api/exchange/bidding/${encodeURIComponent(sessionId)}/${action}`, {
    id: commandId(action),
  });
  button.disabled = false;
  if (status !== 200 && status !== 201) {
    explain(status, body);
    return;
  }
  statusLine.textContent = action === "approve" ? `${sessionId} is published.` : `${sessionId} is ${body.session.status}.`;
  await load();
  const done = sessions.find((s) => s.session === sessionId);
  if (done && done.result) showResult(done);
}

bidSession.addEventListener("change", describeRange);
bidForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const price = toFen(document.getElementById("bid-price").value);
  const quantity = document.getElementById("bid-quantity").value.trim();
  if (price === null) {
    showError("Write the price in CNY per tonne with at most two decimals, e.g. 97.49.");
    return;
  }
  if (!/^\d+$/.test(quantity)) {
    showError("Write the quantity in whole tonnes.");
    return;
  }
  bidSubmit.disabled = true;
  const sessionId = bidSession.value;
  const { status, body } = await apiPost(`/api/exchange/bidding/${encodeURIComponent(sessionId)}/bids`, {
    id: commandId("bid"),
    account: bidAccount.value,
    price_fen: price,
    quantity: Number(quantity),
  });
  bidSubmit.disabled = false;
  if (status !== 200 && status !== 201) {
    explain(status, body);
    return;
  }
  statusLine.textContent = `Bid ${body.bid} is sealed: ${formatQuantity(body.held.quantity, body.held.instrument)} ${body.held.instrument === "CNY" ? "CNY" : "t"} held.`;
  bidForm.reset();
  await load();
});

load();

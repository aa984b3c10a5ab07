// The member's order ticket: read the book, balances, open orders and fills of the signed-in
// member's trading account with its token, place orders (auto or pick) and cancel them. The prices
// a person types in CNY are turned into whole fen here exactly, without floating point.
import { apiGet, clearSession, currentSession, formatQuantity, readJson } from "/static/session.js";

const API = "/api/exchange";
const refreshMs = 2000;
const summary = document.getElementById("trade-summary");
const errorBox = document.getElementById("trade-error");
const statusLine = document.getElementById("trade-status");
const form = document.getElementById("ticket");
const accountField = document.getElementById("ticket-account");
const instrumentField = document.getElementById("ticket-instrument");
const sideField = document.getElementById("ticket-side");
const modeField = document.getElementById("ticket-mode");
const pickField = document.getElementById("pick-field");
const pickSelect = document.getElementById("ticket-pick");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

function cny(fen) {
  return formatQuantity(fen, "CNY");
}

function showError(text, action) {
  errorBox.replaceChildren(document.createTextNode(text));
  if (action) errorBox.append(" ", action);
  errorBox.hidden = false;
}

function signInLink() {
  const link = document.createElement("a");
  link.href = `/login?next=${encodeURIComponent(window.location.pathname)}`;
  link.textContent = "Sign in";
  return link;
}

// "97.49" → 9749 fen; anything but CNY with at most two decimals is refused before it is sent.
export function priceToFen(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

function commandId(prefix) {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now());
  return `${prefix}-${random}`.slice(0, 64);
}

async function send(method, path, body) {
  const session = currentSession();
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers };
  if (body !== undefined) init.body = JSON.stringify(body);
  return readJson(await fetch(path, init));
}

function explain(status, body) {
  if (status === 401) {
    clearSession();
    showError("Your session has ended.", signInLink());
  } else {
    showError(body.message || `The server answered HTTP ${status}.`);
  }
}

function account() {
  return accountField.value;
}

async function loadBook() {
  const instrument = instrumentField.value;
  const { status, body } = await apiGet(`${API}/book/${encodeURIComponent(instrument)}?levels=5`);
  if (status !== 200) return;
  document.getElementById("book-instrument").textContent = instrument;
  document.getElementById("book-band").textContent = body.band_fen
    ? `Today's band: ${cny(body.band_fen[0])}-${cny(body.band_fen[1])} CNY (reference ${cny(body.reference_price_fen)})`
    : "No order yet today.";
  const rows = [];
  for (const level of [...body.asks].reverse()) {
    rows.push(row(cell("ask", "out"), cell(cny(level.price_fen), "num"), cell(formatQuantity(level.quantity), "num"), cell(level.orders, "num")));
  }
  for (const level of body.bids) {
    rows.push(row(cell("bid", "in"), cell(cny(level.price_fen), "num"), cell(formatQuantity(level.quantity), "num"), cell(level.orders, "num")));
  }
  document.querySelector("#book tbody").replaceChildren(...rows);
}

async function loadPickable() {
  if (modeField.value !== "pick") return;
  const path = `${API}/book/${encodeURIComponent(instrumentField.value)}/pickable?side=${sideField.value}`;
  const { status, body } = await apiGet(path);
  if (status !== 200) return;
  const chosen = pickSelect.value;
  pickSelect.replaceChildren(
    ...body.orders.map((order) => {
      const option = document.createElement("option");
      option.value = order.order_id;
      option.textContent = `${order.order_id}: ${formatQuantity(order.remaining)} t at ${cny(order.price_fen)}`;
      return option;
    }),
  );
  if (chosen) pickSelect.value = chosen;
}

async function loadBalances() {
  const { status, body } = await apiGet(`${API}/funds/${encodeURIComponent(account())}`);
  if (status !== 200) return explain(status, body);
  document.getElementById("balances-account").textContent = account();
  document.querySelector("#balances tbody").replaceChildren(
    ...body.balances.map((b) =>
      row(
        cell(b.instrument),
        cell(formatQuantity(b.total, b.instrument), "num"),
        cell(formatQuantity(b.held, b.instrument), "num"),
        cell(formatQuantity(b.available, b.instrument), "num"),
        cell(b.instrument === "CNY" ? "" : formatQuantity(b.tradable), "num"),
      ),
    ),
  );
}

async function cancel(orderId) {
  const { status, body } = await send("DELETE", `${API}/orders/${encodeURIComponent(orderId)}?id=${commandId("cancel")}`);
  if (status >= 400) return explain(status, body);
  statusLine.textContent = `Order ${orderId} cancelled.`;
  await refresh();
}

async function loadOrders() {
  const { status, body } = await apiGet(`${API}/orders?account=${encodeURIComponent(account())}&status=open`);
  if (status !== 200) return explain(status, body);
  document.querySelector("#open-orders tbody").replaceChildren(
    ...body.orders.map((o) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small-button";
      button.textContent = "Cancel";
      button.dataset.order = o.order_id;
      button.addEventListener("click", () => cancel(o.order_id));
      const action = document.createElement("td");
      action.append(button);
      return row(
        cell(o.order_id, "mono"),
        cell(o.instrument),
        cell(o.side),
        cell(cny(o.price_fen), "num"),
        cell(formatQuantity(o.quantity), "num"),
        cell(formatQuantity(o.filled), "num"),
        cell(formatQuantity(o.remaining), "num"),
        action,
      );
    }),
  );
  document.getElementById("orders-empty").hidden = body.orders.length > 0;
}

async function loadFills() {
  const { status, body } = await apiGet(`${API}/trades?account=${encodeURIComponent(account())}&limit=50`);
  if (status !== 200) return explain(status, body);
  document.querySelector("#fills tbody").replaceChildren(
    ...body.trades.map((t) => {
      const bought = t.buyer_account === account();
      return row(
        cell(t.trade_id, "mono"),
        cell(t.at.slice(0, 19).replace("T", " ")),
        cell(t.instrument),
        cell(bought ? "bought" : "sold", bought ? "in" : "out"),
        cell(cny(t.price_fen), "num"),
        cell(formatQuantity(t.quantity), "num"),
        cell(cny(bought ? t.buyer_fee_fen : t.seller_fee_fen), "num"),
      );
    }),
  );
  document.getElementById("fills-empty").hidden = body.trades.length > 0;
}

async function refresh() {
  if (!account()) return;
  await Promise.all([loadBook(), loadPickable(), loadBalances(), loadOrders(), loadFills()]);
}

async function placeOrder(event) {
  event.preventDefault();
  errorBox.hidden = true;
  const priceFen = priceToFen(document.getElementById("ticket-price").value);
  if (priceFen === null) return showError("Type the price in CNY with at most two decimals, e.g. 97.49.");
  const orderId = commandId("web");
  const body = {
    id: orderId,
    account: account(),
    instrument: instrumentField.value,
    side: sideField.value,
    price_fen: priceFen,
    quantity: document.getElementById("ticket-quantity").value.trim(),
    mode: modeField.value,
  };
  if (modeField.value === "pick") body.pick_order_id = pickSelect.value || null;
  const { status, body: answer } = await send("POST", `${API}/orders`, body);
  if (status >= 400) return explain(status, answer);
  const filled = answer.trades.reduce((sum, t) => sum + t.quantity, 0);
  statusLine.textContent = `Order ${orderId} ${answer.status}: ${formatQuantity(filled)} t filled, ${formatQuantity(answer.remaining)} t open.`;
  await refresh();
}

async function start() {
  const session = currentSession();
  if (!session) {
    summary.textContent = "Sign in as an exchange member to trade.";
    showError("You are not signed in.", signInLink());
    return;
  }
  const { status, body } = await apiGet("/api/auth/me");
  if (status !== 200) return explain(status, body);
  const accounts = body.accounts.filter((a) => a.rights.includes("initiate") && a.account.endsWith("-T"));
  if (!accounts.length) {
    summary.textContent = `${body.username} holds the initiate right on no trading account.`;
    return;
  }
  accountField.replaceChildren(
    ...accounts.map((a) => {
      const option = document.createElement("option");
      option.value = a.account;
      option.textContent = a.account;
      return option;
    }),
  );
  summary.textContent = `Signed in as ${body.username}. Listed agreement: lot 1 t, tick CNY 0.01, within ±10% of the previous close.`;
  document.getElementById("ticket-section").hidden = false;
  document.getElementById("orders-section").hidden = false;
  form.addEventListener("submit", placeOrder);
  modeField.addEventListener("change", () => {
    pickField.hidden = modeField.value !== "pick";
    loadPickable();
  });
  for (const field of [accountField, instrumentField, sideField]) field.addEventListener("change", refresh);
  await refresh();
  window.setInterval(refresh, refreshMs);
}

start();

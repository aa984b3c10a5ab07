// The signed-in session of this browser tab, and JSON calls to our API with its token.
// The token lives in sessionStorage: it ends with the tab and is never sent with page requests.

const KEY = "carbonmarket.session";

export function currentSession() {
  let stored = null;
  try {
    stored = JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    stored = null;
  }
  if (!stored || typeof stored.token !== "string") return null;
  // An expired token would only earn a 401; forget it so the page offers to sign in instead.
  if (typeof stored.expiresAt === "number" && Date.now() >= stored.expiresAt) {
    clearSession();
    return null;
  }
  return stored;
}

export function saveSession(token, username, role, expiresInSeconds) {
  const session = { token, username, role, expiresAt: Date.now() + expiresInSeconds * 1000 };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

// GET a JSON resource with the bearer token; resolves to {status, body} and never throws for HTTP errors.
export async function apiGet(path) {
  const session = currentSession();
  const headers = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return readJson(await fetch(path, { headers }));
}

export async function readJson(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = { ok: false, code: "bad_response", message: `The server answered HTTP ${response.status}.` };
  }
  return { status: response.status, body };
}

const grouping = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

// Whole units with thousands separators; CNY is counted in fen and shown in yuan with two decimals.
export function formatQuantity(quantity, instrument) {
  if (instrument === "CNY") {
    const sign = quantity < 0 ? "-" : "";
    const fen = Math.abs(quantity);
    return `${sign}${grouping.format(Math.trunc(fen / 100))}.${String(fen % 100).padStart(2, "0")}`;
  }
  return grouping.format(quantity);
}

// Show who is signed in, with a way out, in the header of every page.
function renderNav() {
  const slot = document.getElementById("nav-session");
  const session = currentSession();
  if (!slot || !session) return;
  const who = document.createElement("span");
  who.className = "nav-user";
  who.textContent = session.username;
  const out = document.createElement("button");
  out.type = "button";
  out.className = "link-button";
  out.textContent = "Sign out";
  out.addEventListener("click", () => {
    clearSession();
    window.location.assign("/");
  });
  slot.replaceChildren(who, out);
}

renderNav();

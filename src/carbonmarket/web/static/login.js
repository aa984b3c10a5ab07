// The sign-in form: exchange username and password for a token, keep it for this tab, move on.
import { readJson, saveSession } from "/static/session.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

// Only a path on this site may be a destination, so a crafted link cannot send users elsewhere.
function nextPage() {
  const next = new URLSearchParams(window.location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : null;
}

async function firstAccount(token) {
  const response = await fetch("/api/auth/me", { headers: { Authorization: `Bearer ${token}` } });
  const { body } = await readJson(response);
  return response.ok && body.accounts && body.accounts.length ? body.accounts[0].account : null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError("Enter your username and password.");
    return;
  }
  submit.disabled = true;
  try {
    const response = await fetch("/api/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ username, password }),
    });
    const { status, body } = await readJson(response);
    if (status === 401) {
      showError("Wrong username or password.");
      form.password.value = "";
      form.password.focus();
      return;
    }
    if (!response.ok) {
      showError(body.message || `Sign-in failed (HTTP ${status}).`);
      return;
    }
    saveSession(body.access_token, username, body.role, body.expires_in);
    const account = nextPage() ? null : await firstAccount(body.access_token);
    window.location.assign(nextPage() || (account ? `/accounts/${encodeURIComponent(account)}` : "/"));
  } catch {
    showError("The server could not be reached. Try again in a moment.");
  } finally {
    submit.disabled = false;
  }
});

"""Shared plumbing for browser tests: the real app served by uvicorn in a thread, and headless Chromium.

Use it from a test module:

    from e2e.live import chromium_page, serve_app, sign_in

    @pytest.fixture(scope="module")
    def live_server(tmp_path_factory):
        url = ...  # a migrated database with what the test needs
        with serve_app(url, SECRET) as base:
            yield base

    @pytest.fixture
    def page(live_server):
        with chromium_page() as opened:
            yield opened
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from carbonmarket.api.app import create_app
from carbonmarket.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
server_start_timeout_s = 15.0
wait_ms = 15_000


@contextmanager
def serve_app(database_url: str, jwt_secret: str) -> Iterator[str]:
    """Serve the real app over `database_url` on a free port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    app = create_app(database_url, Settings(jwt_secret=jwt_secret))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + server_start_timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=server_start_timeout_s)
        sock.close()


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A page in headless Chromium: fails in CI (skips locally) without it; fails on any script error."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"headless Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_page(viewport={"width": width, "height": height})
        opened.set_default_timeout(wait_ms)
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
        browser.close()
    assert not errors, errors


def sign_in(page: Any, base: str, username: str, password: str, next_path: str) -> None:
    """Sign in through the real login page and wait to land on `next_path`."""
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    # The login page's own URL ends with `?next=<next_path>`, so a glob on the path would match it
    # before the sign-in has navigated: wait for the page itself (and its load event, so its
    # scripts have attached their handlers before the test clicks anything).
    wanted = urlsplit(f"{base}{next_path}")
    page.wait_for_url(lambda url: (urlsplit(url).path, urlsplit(url).query) == (wanted.path, wanted.query))


def screenshot_path(name: str) -> str:
    """Where a test keeps a screenshot for a person to look at (the temp folder)."""
    return str(Path(os.environ.get("TMPDIR", "/tmp")) / name)

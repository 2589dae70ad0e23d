"""Browser tests: the real app (gunicorn + worker dyno) driven by a real Chromium.

Playwright drives Debian's Chromium (never a downloaded browser). When either
is missing the tests skip locally and fail on CI (CI=true), so a broken CI
image cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rq import Worker

from tests.conftest import ROOT, WorkerDyno, wait_for

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
# scripts/screenshots.py sets this to refresh the screenshots in docs/.
DOCS_SCREENSHOTS = os.environ.get("FEEDQUEUE_DOCS_SCREENSHOTS")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -r requirements-dev.txt)")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Any) -> Iterator[Any]:
    """One Chromium for the whole run."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveApp:
    """The running app: its base URL and log."""

    url: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def live_app(
    worker_env: dict[str, str],
    db: object,
    redis: object,
    start_worker: Callable[..., WorkerDyno],
    tmp_path: Path,
) -> Iterator[LiveApp]:
    """gunicorn serving the real app on a loopback port, plus a real worker dyno."""
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    env = {**worker_env, "PORT": str(port), "WEB_CONCURRENCY": "1"}
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            # Loopback only, whatever the config file binds to.
            "--bind",
            f"127.0.0.1:{port}",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    start_worker(concurrency=2)
    # Tests time what the page does, not how long the worker dyno takes to boot.
    wait_for(lambda: Worker.all(connection=redis), timeout=30)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("gunicorn did not start:\n" + log_path.read_text())
        time.sleep(0.1)
    yield LiveApp(url, log_path)
    # SIGQUIT: gunicorn's quick shutdown; the browser's keep-alive connections need no grace.
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


@dataclass
class PageProbe:
    """A browser page plus everything it complained about."""

    page: Any
    base_url: str
    errors: list[str] = field(default_factory=list)
    # Console messages a test expects (e.g. the 400 of a refused form post).
    expected: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def shot(self, name: str, docs_name: str | None = None) -> None:
        """Save a full-page screenshot as a test artifact (and for the docs, when asked)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if DOCS_SCREENSHOTS and docs_name:
            Path(DOCS_SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(
                path=str(Path(DOCS_SCREENSHOTS) / f"{docs_name}.png"), full_page=True
            )

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(x in e for x in self.expected)]


@pytest.fixture
def page(browser: Any, live_app: LiveApp) -> Iterator[PageProbe]:
    """A fresh browser context on the live app; fails the test on any console error."""
    context = browser.new_context(
        base_url=live_app.url, viewport={"width": 1100, "height": 800}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    probe = PageProbe(tab, live_app.url)
    tab.on(
        "console",
        lambda msg: (
            probe.errors.append(f"console {msg.type}: {msg.text} ({tab.url})")
            if msg.type == "error"
            else None
        ),
    )
    tab.on("pageerror", lambda exc: probe.errors.append(f"page error: {exc} ({tab.url})"))
    yield probe
    context.close()
    unexpected = probe.unexpected_errors()
    if unexpected:
        pytest.fail("the browser reported errors:\n" + "\n".join(unexpected))

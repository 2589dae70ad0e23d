"""Browser tests: the real app (gunicorn + worker dyno) driven by a real Chromium.

Playwright drives Debian's Chromium (never a downloaded browser). When either
is missing the tests skip locally and fail on CI (CI=true), so a broken CI
image cannot pass silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Worker

from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.conftest import PASSWORD, ROOT, WebDyno, WorkerDyno, wait_for

ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
# scripts/screenshots.py sets this to refresh the screenshots in docs/.
DOCS_SCREENSHOTS = os.environ.get("FEEDQUEUE_DOCS_SCREENSHOTS")


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Any) -> Iterator[Any]:
    """One Chromium for the whole run."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class LiveApp:
    """The running app: its base URL and log."""

    url: str
    web: WebDyno

    def output(self) -> str:
        return self.web.output()


@pytest.fixture
def live_app(
    db: object,
    redis: Redis,
    start_web: Callable[..., WebDyno],
    start_worker: Callable[..., WorkerDyno],
) -> LiveApp:
    """gunicorn serving the real app on a loopback port, plus a real worker dyno."""
    start_worker(concurrency=2)
    web = start_web()
    # Tests time what the page does, not how long the worker dyno takes to boot.
    wait_for(lambda: Worker.all(connection=redis), timeout=30)
    return LiveApp(web.base_url, web)


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


def sign_up(probe: PageProbe, username: str = "reader") -> None:
    """Create the first account (the admin) through the pages, as a newcomer does."""
    probe.goto("/")
    probe.page.wait_for_url(re.compile(r"/signin"))
    probe.page.locator("#first-run a").click()
    probe.page.get_by_label("User name").fill(username)
    probe.page.get_by_label("Password").fill(PASSWORD)
    probe.page.get_by_role("button", name="Sign up").click()
    probe.page.wait_for_url(probe.base_url + "/")


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
    sign_up(probe)
    yield probe
    context.close()
    unexpected = probe.unexpected_errors()
    if unexpected:
        pytest.fail("the browser reported errors:\n" + "\n".join(unexpected))

"""Fixtures for the security suite: app variants, a real gunicorn web dyno, a real Chromium.

The web dyno and the browser come from the shared helpers in tests/dynos.py
and tests/chromium.py.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from app.storage.db import Database
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.conftest import WebDyno


@pytest.fixture
def web_dyno(db: Database, start_web: Callable[..., WebDyno]) -> WebDyno:
    """The real app behind gunicorn on a free loopback port."""
    return start_web()


T = TypeVar("T")


@pytest.fixture
def in_chromium() -> Callable[[Callable[[Any], T]], T]:
    """Run ``fn(browser)`` with a headless Chromium (the system one) driven by Playwright.

    Each call runs in its own thread with its own Playwright: the sync API refuses to
    start in a thread where another suite's session-wide Playwright is already running.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    def run(fn: Callable[[Any], T]) -> T:
        def in_thread() -> T:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    return fn(browser)
                finally:
                    browser.close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(in_thread).result(timeout=120)

    return run

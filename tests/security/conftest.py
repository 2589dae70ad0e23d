"""Fixtures for the security suite: app variants, a real gunicorn web dyno, a real Chromium.

Self-contained on purpose: the browser suite has its own server fixture, and
these tests must not change when that one does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from flask import Flask
from redis import Redis

from app import create_app
from app.config import Settings
from app.storage.db import Database
from tests.conftest import ROOT, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def make_app(settings: Settings, db: Database, redis: Redis) -> Iterator[Callable[..., Flask]]:
    """Build apps with CSRF on (as in production) and some settings replaced."""
    apps: list[Flask] = []

    def make(**changes: Any) -> Flask:
        flask_app = create_app(replace(settings, **changes))
        apps.append(flask_app)
        return flask_app

    yield make
    for flask_app in apps:
        flask_app.extensions["feedqueue.db"].dispose()


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebDyno:
    """gunicorn serving the app with the repository's gunicorn.conf.py, like a web dyno."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "app:create_app()",
            ],
            cwd=ROOT,
            env={**env, "PORT": str(self.port), "WEB_CONCURRENCY": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited early:\n{self.output()}")
            try:
                return requests.get(self.base_url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=timeout, interval=0.1)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


@pytest.fixture
def web_dyno(worker_env: dict[str, str], db: Database, tmp_path: Path) -> Iterator[WebDyno]:
    """The real app behind gunicorn on a free loopback port."""
    dyno = WebDyno(worker_env, tmp_path / "gunicorn.log")
    try:
        dyno.wait_ready()
        yield dyno
    finally:
        dyno.stop()


def _unavailable(reason: str) -> None:
    # In CI a missing browser is a broken machine, not a reason to skip the proof.
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


T = TypeVar("T")


@pytest.fixture
def in_chromium() -> Callable[[Callable[[Any], T]], T]:
    """Run ``fn(browser)`` with a headless Chromium (the system one) driven by Playwright.

    Each call runs in its own thread with its own Playwright: the sync API refuses to
    start in a thread where another suite's session-wide Playwright is already running.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM}")

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

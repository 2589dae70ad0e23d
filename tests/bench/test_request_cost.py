"""The request-cost bench submits and polls through a real gunicorn, one request at a time."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.storage.db import Database
from bench.accounts import create_account
from bench.request_cost import Client, measure
from bench.stack import Services
from tests.dynos import WebDyno


def test_submissions_and_polls_are_counted_and_answered(
    settings: Settings, db: Database, start_web: Callable[..., WebDyno]
) -> None:
    account = create_account(settings.database_url or "")
    services = Services(settings.database_url or "", settings.redis_url or "", account=account)
    web = start_web()
    client = Client(services, port=web.port)
    cpu = iter(range(100)).__next__  # a clock that moves 1 s per reading
    posts = measure(client.post, cpu, cpu, requests=5, warm=2)
    polls = measure(client.poll, cpu, cpu, requests=5, warm=1)
    assert posts["n"] == polls["n"] == 5
    assert client.status_url.startswith("/fetches/")
    # Each figure is the difference of two readings, per counted request.
    assert posts["web_cpu_ms_per_request"] == posts["postgres_cpu_ms_per_request"] == 400.0

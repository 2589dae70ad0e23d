"""The new scenarios of ``python -m bench.run`` end to end at tiny sizes: real gunicorn,
worker.py and feed server processes against the test database and Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from app.config import Settings
from bench import stack, web_scenarios, worker_scenarios
from bench.accounts import create_account
from bench.modes import QUICK
from bench.stack import Services
from tests.dynos import free_port

TINY = dataclasses.replace(
    QUICK,
    isolation_rate=20,
    new_connection_seconds=2,
    burst_seconds=2,
    polite_clients=3,
    polite_concurrency=2,
    first_fetch_feeds=40,
    first_fetch_seconds=2,
)


@pytest.fixture
def services(settings: Settings, db: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The bench's stack on free ports, against this test's database and Redis."""
    monkeypatch.setattr(stack, "WEB_PORT", free_port())
    monkeypatch.setattr(stack, "FEED_PORT", free_port())
    account = create_account(settings.database_url or "")
    yield Services(settings.database_url or "", settings.redis_url or "", account=account)


def test_new_connections_submits_at_the_rate_without_errors(services: Services) -> None:
    out = web_scenarios.new_connections(services, TINY)

    load = out["load"]
    assert isinstance(load, dict)
    assert load["requests"] > 10 and load["errors"] == 0, load["errors_by_kind"]
    assert "BENCH_CONNECTION_CLOSE=1" in load["command"]


def test_host_burst_runs_one_host_then_many_and_counts_their_waits(services: Services) -> None:
    out = web_scenarios.host_burst(services, TINY)

    one, many = out.values()
    assert isinstance(one, dict) and isinstance(many, dict)
    assert one["hosts"] == 1 and many["hosts"] == stack.FEED_HOSTS
    assert one["load"]["errors"] == 0 and many["load"]["errors"] == 0
    assert many["deferrals"] == 0  # one feed per host: none waits


def test_retry_after_clients_see_their_items(services: Services) -> None:
    out = worker_scenarios.retry_after_clients(services, TINY)

    assert out["states"] == {"succeeded": 3}
    assert out["with_items"] == 3


def test_first_fetch_submits_new_feeds_and_a_worker_fetches_them(services: Services) -> None:
    out = worker_scenarios.first_fetch(services, TINY)

    # 40 feeds are done within the 10 s warm-up, before the window: the window's own
    # count is the full run's business; here every feed was submitted and fetched.
    state = out["state"]
    assert isinstance(state, dict)
    assert out["feeds"] == 40
    assert state["finished"] + state["pending"] == 40
    assert state["finished"] > 30 and state["failed"] == 0

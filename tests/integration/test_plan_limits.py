"""The whole stack under the limits of the plans app.json picks, and of the next ones up.

A redis-server of its own (the pip-installed binary the project runs locally)
with ``--maxclients`` and ``--maxmemory`` as Key-Value Store mini (20 clients,
25 MB, ``noeviction``), a Postgres role with ``CONNECTION LIMIT 20`` owning a
fresh database (essential-0), app.json's env, a web dyno (gunicorn) and a
worker dyno (``worker.py``). Hundreds of submissions and scheduled refreshes
must all end, with no connection or memory error in any log, while the
clients of both servers, sampled as they run, stay within the budget's target
(the plan's limit less ``CONNECTION_RESERVE``). Then the next plans up
(premium-0: 40 clients, 50 MB; essential-2: 40 connections) with two worker dynos.
Each plan has servers of its own (bench.plans sets them up, as it does for
bench/soak.py's hour-long run), so the two tests can run side by side.

Deviations from app.json's env, all of them needed to run on one machine:
every feed is on one loopback server (so private addresses are allowed and
the per-host politeness limits are lifted, as in bench/), and all submissions
come from one client (so the per-client rate limit is lifted).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, insert, select

from app.services.accounts import create_token
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState
from bench.plans import (
    MINI_ESSENTIAL0,
    PREMIUM0_ESSENTIAL2,
    Peaks,
    Plan,
    Sampler,
    Stack,
    app_json_env,
    bad_lines,
    limited_stack,
)
from tests.conftest import add_user, follow_all, wait_for
from tests.dynos import WebDyno, WorkerDyno
from tests.feedserver import FIXTURES, FeedServer

RSS = (FIXTURES / "example-rss20.xml").read_bytes()
SUBMISSIONS = 200
REFRESHES = 200
#: app.json's plans, and the next ones up with two worker dynos.
PLANS = {"mini-essential0": MINI_ESSENTIAL0, "premium0-essential2": PREMIUM0_ESSENTIAL2}


def _due_feeds(db: Database, feed_server: FeedServer, prefix: str, count: int) -> None:
    due = datetime.now(UTC) - timedelta(seconds=5)
    with db.session() as session:
        session.execute(
            insert(Feed),
            [
                {
                    "url": feed_server.add(f"/{prefix}/due/{i}.xml", RSS),
                    "current_url": feed_server.url(f"/{prefix}/due/{i}.xml"),
                    "state": FeedState.ACTIVE,
                    "next_fetch_at": due,
                }
                for i in range(count)
            ],
        )
        session.commit()


def _fetch_states(db: Database) -> dict[FetchState, int]:
    with db.session() as session:
        rows = session.execute(select(Fetch.state, func.count()).group_by(Fetch.state))
        return {state: count for state, count in rows}


@dataclass
class Run:
    """What one plan's run saw: answers to the submissions, fetches by state at the end,
    the servers' peaks, each log's bad lines, and the exception that ended it early."""

    plan: Plan
    statuses: list[int] = field(default_factory=list)
    states: dict[FetchState, int] = field(default_factory=dict)
    peaks: Peaks = field(default_factory=Peaks)
    bad: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def _load(stack: Stack, plan: Plan, server: FeedServer, logs: Path, run: Run) -> None:
    """Boot app.json's formation on ``stack``, submit and refresh, wait for every fetch."""
    env = app_json_env(
        stack, {**os.environ, "PYTHONUNBUFFERED": "1"}, plan, SCHEDULE_EVERY_SECONDS="1"
    )
    db = Database(stack.database_url, pool_size=1)
    sampler = Sampler(stack.redis_url, stack.admin_dsn, stack.role)
    sampler.start()
    dynos: list[WebDyno | WorkerDyno] = []
    try:
        web = WebDyno(env, logs / "web.log", workers=2)  # WEB_CONCURRENCY on basic
        dynos.append(web)
        for i in range(plan.worker_dynos):
            dynos.append(WorkerDyno(env, logs / f"worker-{i}.log", concurrency=2))
        _due_feeds(db, server, logs.name, REFRESHES)
        follow_all(db)  # the scheduler refreshes only feeds someone follows
        with db.session() as session:
            token = create_token(session, add_user(db), "plan test").secret
        auth = {"Authorization": f"Bearer {token}"}
        wait_for(web.healthy, timeout=60)

        def submit(i: int) -> int:
            url = server.add(f"/{logs.name}/new/{i}.xml", RSS)
            return requests.post(
                f"{web.base_url}/feeds", json={"url": url}, headers=auth, timeout=30
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            run.statuses = list(pool.map(submit, range(SUBMISSIONS)))

        def all_done() -> bool:
            run.states = _fetch_states(db)
            return sum(run.states.values()) == SUBMISSIONS + REFRESHES and not (
                set(run.states) & {FetchState.QUEUED, FetchState.RUNNING}
            )

        wait_for(all_done, timeout=300, interval=0.5)
    except Exception as exc:  # noqa: BLE001 - reported by the plan's own test
        run.error = repr(exc)
    finally:
        run.peaks = sampler.stop()
        for dyno in dynos:
            dyno.kill()
        db.dispose()
    for path in [*logs.glob("*.log"), stack.redis_log]:
        run.bad[path.name] = bad_lines(path.read_text())


@pytest.fixture
def run_plan(
    service_urls: tuple[str, str], feed_server: FeedServer, tmp_path: Path
) -> Callable[[str], Run]:
    """Load one plan's stack of its own. Each test loads only its plan: two tests on
    two xdist workers overlap their waits, and no worker loads the other's plan."""

    def run(name: str) -> Run:
        found = Run(PLANS[name])
        directory = tmp_path / name
        directory.mkdir()
        with limited_stack(service_urls[0], directory, PLANS[name]) as stack:
            _load(stack, PLANS[name], feed_server, directory, found)
        return found

    return run


def _assert_fits(run: Run) -> None:
    assert run.error is None, run.error
    assert run.statuses == [202] * SUBMISSIONS
    # Every fetch terminal and succeeded, none lost.
    assert run.states == {FetchState.SUCCEEDED: SUBMISSIONS + REFRESHES}
    assert {name: lines[:5] for name, lines in run.bad.items() if lines} == {}
    redis_target, postgres_target = run.plan.target
    print(f"peaks: {run.peaks}")  # shown with -s, and in the report of a failure
    assert run.peaks.samples > 20 and not run.peaks.errors
    assert run.peaks.redis <= redis_target, run.peaks
    assert run.peaks.postgres <= postgres_target, run.peaks


# About half a minute each on slow cores with nothing else running; more beside other tests.
@pytest.mark.timeout(480)
def test_app_json_formation_fits_mini_and_essential0(run_plan: Callable[[str], Run]) -> None:
    _assert_fits(run_plan("mini-essential0"))


@pytest.mark.timeout(480)
def test_two_worker_dynos_fit_premium0_and_essential2(run_plan: Callable[[str], Run]) -> None:
    _assert_fits(run_plan("premium0-essential2"))

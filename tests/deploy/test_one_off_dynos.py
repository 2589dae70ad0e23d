"""One-off dynos: ``heroku run python worker.py --burst`` works its queues empty and exits,
and every Redis key the app leaves behind after a run expires on its own."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select

from app.context import JobContext
from app.storage.db import Database
from app.storage.models import Fetch, FetchState
from app.workers.housekeeping import Housekeeper
from tests.feedserver import FIXTURES, FeedServer

RSS = (FIXTURES / "example-rss20.xml").read_bytes()

#: RQ's own containers, which have no TTL but whose members do or are bounded: queue
#: lists (QUEUE_MAX_JOBS), the set of queues, worker sets (members expire with their
#: worker keys) and job registries (entries expire, RQ's maintenance removes them).
RQ_CONTAINERS = ("rq:queues", "rq:queue:", "rq:workers", "rq:wip:", "rq:started:",
                 "rq:finished:", "rq:failed:", "rq:deferred:", "rq:scheduled:",
                 "rq:canceled:")  # fmt: skip


def _states(db: Database) -> list[FetchState]:
    with db.session() as session:
        return list(session.scalars(select(Fetch.state)))


def test_a_burst_worker_runs_the_queued_fetches_and_exits(
    client: FlaskClient, db: Database, feed_server: FeedServer,
    run_worker_burst: Callable[..., object],
) -> None:
    for n in range(3):
        url = feed_server.add(f"/f{n}.xml", RSS)
        assert client.post("/feeds", json={"url": url}).status_code == 202
    run_worker_burst()  # asserts exit code 0
    assert _states(db) == [FetchState.SUCCEEDED] * 3


def test_a_burst_worker_with_nothing_to_do_exits_at_once_with_success(
    db: Database, redis: Redis, run_worker_burst: Callable[..., object]
) -> None:
    run_worker_burst(timeout=30)
    assert _states(db) == []


def test_every_key_the_app_writes_expires_or_is_an_rq_container(
    client: FlaskClient, db: Database, redis: Redis, feed_server: FeedServer,
    run_worker_burst: Callable[..., object], job_context: JobContext,
) -> None:
    good = feed_server.add("/good.xml", RSS)
    bad = feed_server.add("/bad.xml", b"gone", status=404)
    for url in (good, bad):
        assert client.post("/feeds", json={"url": url}).status_code == 202
    run_worker_burst()
    # One job still waiting: its hash must expire too (its fetch waits in Postgres).
    assert client.post("/feeds", json={"url": feed_server.url("/later.xml")}).status_code == 202
    Housekeeper(job_context)()  # scheduler, reconciler, retention, the dyno's metrics
    client.get("/status")
    keys = [key.decode() for key in redis.scan_iter(count=1000)]
    assert any("ratelimit" in key for key in keys) and any("dyno" in key for key in keys)
    assert any(key.startswith("rq:job:") for key in keys)
    forever = [
        key for key in keys
        if redis.ttl(key) == -1 and not key.startswith(RQ_CONTAINERS)
    ]  # fmt: skip
    assert forever == []

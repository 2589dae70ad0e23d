"""Fetches whose worker process died under them (app/jobs/crashes.py), and worker
processes replaced past WORKER_MAX_RSS_MB (app/workers/threads.py)."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from redis import Redis
from rq import Worker
from sqlalchemy import select, update

from app import create_app
from app.config import Settings
from app.context import JobContext
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.fetches import claim_fetch
from app.storage.models import Feed, Fetch, FetchState
from app.workers.housekeeping import reconcile
from app.workers.recovery import recover_worker_job
from tests.conftest import WorkerDyno, signed_in, wait_for
from tests.feedserver import FIXTURES, FeedServer, Request, Response

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


def _submit(client: FlaskClient, url: str) -> uuid.UUID:
    response = client.post("/feeds", json={"url": url})
    assert response.status_code == 202
    return uuid.UUID(response.get_json()["fetch"]["id"])


def _fetch(db: Database, fetch_id: uuid.UUID) -> Fetch:
    with db.session() as session:
        fetch = session.get(Fetch, fetch_id)
        assert fetch is not None
        return fetch


def _die_running(ctx: JobContext, redis: Redis, fetch_id: uuid.UUID, *, crashes: int = 0) -> str:
    """A worker takes the fetch's job, claims it, and dies (as SIGKILL leaves it)."""
    queue = ctx.queues.submissions
    job = queue.fetch_job(str(fetch_id))
    assert job is not None
    queue.remove(job.id)
    with ctx.db.session() as session:
        assert claim_fetch(session, fetch_id) is not None
        session.execute(update(Fetch).where(Fetch.id == fetch_id).values(crashes=crashes))
        session.commit()
    dead = Worker([queue], connection=redis, name=f"deadhost.{uuid.uuid4().hex[:6]}.t0")
    dead.register_birth()
    dead.prepare_execution(job)
    return dead.name


def test_a_fetch_whose_worker_died_runs_again_behind_the_waiting_work(
    job_context: JobContext, client: FlaskClient, db: Database, redis: Redis,
    feed_server: FeedServer,
) -> None:
    crashed = _submit(client, feed_server.add("/a.xml", RSS))
    waiting = _submit(client, feed_server.add("/b.xml", RSS))
    dead = _die_running(job_context, redis, crashed)
    assert recover_worker_job(job_context, dead) == str(crashed)
    fetch = _fetch(db, crashed)
    assert (fetch.state, fetch.crashes) == (FetchState.QUEUED, 1)
    assert job_context.queues.submissions.get_job_ids() == [str(waiting), str(crashed)]


def test_a_planned_stop_puts_the_fetch_back_in_front_without_counting_a_crash(
    job_context: JobContext, client: FlaskClient, db: Database, redis: Redis,
    feed_server: FeedServer,
) -> None:
    stopped = _submit(client, feed_server.add("/a.xml", RSS))
    waiting = _submit(client, feed_server.add("/b.xml", RSS))
    dead = _die_running(job_context, redis, stopped)
    recover_worker_job(job_context, dead, crashed=False)
    assert _fetch(db, stopped).crashes == 0
    assert job_context.queues.submissions.get_job_ids() == [str(stopped), str(waiting)]


def test_a_fetch_past_FETCH_CRASH_RETRIES_fails_with_worker_crashed_and_its_feed_backs_off(
    job_context_with: Callable[..., JobContext], client: FlaskClient, db: Database,
    redis: Redis, feed_server: FeedServer,
) -> None:
    ctx = job_context_with(fetch_crash_retries=2)
    fetch_id = _submit(client, feed_server.add("/poison.xml", RSS))
    dead = _die_running(ctx, redis, fetch_id, crashes=2)  # this death is its third
    assert recover_worker_job(ctx, dead) is None
    fetch = _fetch(db, fetch_id)
    assert (fetch.state, fetch.error_code, fetch.crashes) == (
        FetchState.FAILED, "worker_crashed", 3
    )
    with db.session() as session:
        feed = session.scalars(select(Feed)).one()
    assert feed.error_count == 1 and feed.last_error_code == "worker_crashed"
    assert feed.next_fetch_at is not None
    assert feed.next_fetch_at > datetime.now(UTC) + timedelta(minutes=4)
    assert ctx.queues.submissions.get_job_ids() == []
    assert not redis.exists(f"rq:job:{fetch_id}")


def test_a_fetch_at_FETCH_CRASH_RETRIES_still_runs_again(
    job_context_with: Callable[..., JobContext], client: FlaskClient, db: Database,
    redis: Redis, feed_server: FeedServer,
) -> None:
    ctx = job_context_with(fetch_crash_retries=2)
    fetch_id = _submit(client, feed_server.add("/a.xml", RSS))
    dead = _die_running(ctx, redis, fetch_id, crashes=1)  # its second death
    recover_worker_job(ctx, dead)
    assert _fetch(db, fetch_id).state == FetchState.QUEUED


def test_the_reconciler_counts_a_stale_running_fetch_as_a_crash_and_obeys_the_limit(
    job_context_with: Callable[..., JobContext], client: FlaskClient, db: Database,
    redis: Redis, feed_server: FeedServer,
) -> None:
    ctx = job_context_with(fetch_crash_retries=1, job_timeout=1)
    again = _submit(client, feed_server.add("/a.xml", RSS))
    poison = _submit(client, feed_server.add("/b.xml", RSS))
    with db.session() as session:
        for fetch_id, crashes in ((again, 0), (poison, 1)):
            claim_fetch(session, fetch_id)
            session.execute(
                update(Fetch)
                .where(Fetch.id == fetch_id)
                .values(crashes=crashes, started_at=datetime.now(UTC) - timedelta(minutes=5))
            )
        session.commit()
    redis.flushdb()  # its whole dyno died: nothing in Redis says anything
    assert reconcile(ctx) == 1
    assert (_fetch(db, again).state, _fetch(db, again).crashes) == (FetchState.QUEUED, 1)
    assert _fetch(db, poison).error_code == "worker_crashed"


def test_status_shows_worker_crashed_and_an_admin_requeues_it(
    job_context_with: Callable[..., JobContext], settings: Settings, client: FlaskClient,
    db: Database, redis: Redis, feed_server: FeedServer,
) -> None:
    ctx = job_context_with(fetch_crash_retries=0)
    fetch_id = _submit(client, feed_server.add("/poison.xml", RSS))
    recover_worker_job(ctx, _die_running(ctx, redis, fetch_id))
    assert _fetch(db, fetch_id).error_code == "worker_crashed"
    app = create_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    try:
        admin = signed_in(app, "boss", is_admin=True)
        page = admin.get("/status").get_data(as_text=True)
        assert 'value="worker_crashed"' in page
        response = admin.post("/status/requeue", data={"code": "worker_crashed"})
        assert response.status_code == 303
    finally:
        feedqueue.of(app).close()
    with db.session() as session:
        states = session.scalars(select(Fetch.state).order_by(Fetch.created_at)).all()
    assert states == [FetchState.FAILED, FetchState.QUEUED]


class Switch:
    """A route that is slow until told otherwise."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self, _req: Request) -> Response:
        return Response(200, RSS, {"Content-Type": "application/rss+xml"}, delay=self.delay)


def _busy_pid(redis: Redis) -> int | None:
    for worker in Worker.all(connection=redis):
        if worker.get_state() == "busy":
            return worker.pid
    return None


def test_a_fetch_that_keeps_killing_its_worker_is_quarantined_while_others_succeed(
    client: FlaskClient, db: Database, redis: Redis, feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    poison = _submit(client, feed_server.route("/poison.xml", Switch(delay=30)))
    dyno = start_worker(concurrency=2, FETCH_CRASH_RETRIES="2", FETCH_DEADLINE="40",
                        FETCH_READ_TIMEOUT="40")
    for death in range(3):  # whatever kills it, every time it runs (here: SIGKILL)
        wait_for(lambda: _fetch(db, poison).state == FetchState.RUNNING, timeout=30)
        pid = wait_for(lambda: _busy_pid(redis), timeout=10)
        os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
        wait_for(lambda d=death: _fetch(db, poison).crashes == d + 1, timeout=10)
    healthy = [_submit(client, feed_server.add(f"/ok{i}.xml", RSS)) for i in range(5)]
    for fetch_id in healthy:
        wait_for(lambda f=fetch_id: _fetch(db, f).state == FetchState.SUCCEEDED, timeout=30)
    fetch = _fetch(db, poison)
    assert (fetch.state, fetch.error_code) == (FetchState.FAILED, "worker_crashed")
    assert "quarantined" in dyno.output()
    assert "thrashing" not in dyno.output()


def test_a_worker_process_past_WORKER_MAX_RSS_MB_finishes_its_job_and_is_replaced(
    client: FlaskClient, db: Database, feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    # Every process is past 1 MB: each one takes jobs for a moment, then is replaced.
    slow = _submit(client, feed_server.route("/slow.xml", Switch(delay=4)))
    dyno = start_worker(concurrency=1, WORKER_MAX_RSS_MB="1")
    wait_for(lambda: "making way for a fresh process" in dyno.output(), timeout=30)
    wait_for(lambda: _fetch(db, slow).state == FetchState.SUCCEEDED, timeout=30)
    assert _fetch(db, slow).crashes == 0
    # Replaced again and again, never counted as thrashing (5 exits in 60 s would be).
    wait_for(lambda: dyno.output().count("exited with status 4") >= 6, timeout=90)
    assert "thrashing" not in dyno.output()
    later = _submit(client, feed_server.add("/later.xml", RSS))
    wait_for(lambda: _fetch(db, later).state == FetchState.SUCCEEDED, timeout=30)

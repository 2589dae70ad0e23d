"""Refresh jobs that carry many fetches (app.jobs.batch) and their recovery paths."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import insert, select, update

from app.jobs.batch import run_fetch_batch
from app.jobs.context import JobContext, set_context
from app.jobs.politeness import HostBudget
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState
from app.workers.housekeeping import enqueue_due_refreshes, reconcile
from app.workers.recovery import recover_worker_job
from tests.feedserver import FIXTURES, FeedServer

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


@pytest.fixture
def batch_context(job_context: JobContext) -> Iterator[Callable[..., JobContext]]:
    """The inline job context with some settings changed (and installed for jobs)."""

    def make(**changes: object) -> JobContext:
        ctx = replace(job_context, settings=replace(job_context.settings, **changes))
        set_context(ctx)
        return ctx

    yield make
    set_context(job_context)


def _due_feeds(db: Database, urls: list[str]) -> None:
    due = datetime.now(UTC) - timedelta(seconds=5)
    with db.session() as session:
        session.execute(
            insert(Feed),
            [
                {"url": url, "current_url": url, "state": FeedState.ACTIVE, "next_fetch_at": due}
                for url in urls
            ],
        )
        session.commit()


def _fetches(db: Database) -> dict[str, Fetch]:
    """Every fetch by its feed's URL."""
    with db.session() as session:
        rows = session.execute(select(Feed.url, Fetch).join(Fetch, Fetch.feed_id == Feed.id))
        return {url: fetch for url, fetch in rows}


def _refresh_jobs(ctx: JobContext) -> list[Job]:
    return [job for job in ctx.queues.refresh.get_jobs() if job is not None]


def _schedule(ctx: JobContext, db: Database, server: FeedServer, count: int) -> list[str]:
    urls = [server.add(f"/b{i}.xml", RSS) for i in range(count)]
    _due_feeds(db, urls)
    assert enqueue_due_refreshes(ctx) == count
    return urls


def test_the_scheduler_puts_refreshes_in_jobs_of_refresh_batch_size(
    batch_context: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = batch_context(refresh_batch_size=3)
    _schedule(ctx, db, feed_server, 7)
    jobs = _refresh_jobs(ctx)
    assert sorted(len(job.args[1]) for job in jobs) == [1, 3, 3]
    fetches = _fetches(db).values()
    for job in jobs:
        carried = {str(f.id) for f in fetches if f.job_id == uuid.UUID(job.id)}
        assert carried == set(job.args[1])


def test_a_worker_runs_every_fetch_of_a_batch_job_once(
    batch_context: Callable[..., JobContext],
    db: Database,
    feed_server: FeedServer,
    run_worker_burst: Callable[..., object],
) -> None:
    ctx = batch_context(refresh_batch_size=4)
    urls = _schedule(ctx, db, feed_server, 9)
    run_worker_burst()
    fetches = _fetches(db)
    assert {f.state for f in fetches.values()} == {FetchState.SUCCEEDED}
    assert all(feed_server.hits(f"/b{i}.xml") == 1 for i in range(len(urls)))


def test_a_fetch_handed_to_its_own_job_is_skipped_by_its_old_batch(
    batch_context: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = batch_context(refresh_batch_size=5)
    urls = _schedule(ctx, db, feed_server, 3)
    (job,) = _refresh_jobs(ctx)
    taken = _fetches(db)[urls[0]]
    with db.session() as session:
        session.execute(update(Fetch).where(Fetch.id == taken.id).values(job_id=None))
        session.commit()
    run_fetch_batch(job.id, job.args[1])
    fetches = _fetches(db)
    assert fetches[urls[0]].state == FetchState.QUEUED
    assert feed_server.hits("/b0.xml") == 0
    assert {fetches[u].state for u in urls[1:]} == {FetchState.SUCCEEDED}


def test_a_member_over_its_host_budget_gets_its_own_scheduled_job(
    batch_context: Callable[..., JobContext],
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
) -> None:
    ctx = batch_context(refresh_batch_size=5)
    ctx = replace(
        ctx,
        budget=HostBudget(
            redis,
            prefix=ctx.settings.queue_prefix,
            concurrency=1,
            per_minute=1000,
            lease_seconds=60,
        ),
    )
    set_context(ctx)
    busy = feed_server.add("/busy.xml", RSS).replace("127.0.0.1", "localhost")
    free = feed_server.add("/free.xml", RSS)
    _due_feeds(db, [busy, free])
    enqueue_due_refreshes(ctx)
    assert ctx.budget.acquire("localhost") is not None  # another worker holds the host
    (job,) = _refresh_jobs(ctx)
    run_fetch_batch(job.id, job.args[1])
    fetches = _fetches(db)
    assert fetches[free].state == FetchState.SUCCEEDED
    deferred = fetches[busy]
    assert deferred.state == FetchState.QUEUED and deferred.job_id is None
    assert str(deferred.id) in ctx.queues.refresh.scheduled_job_registry.get_job_ids()


def test_a_batch_past_its_time_budget_hands_the_rest_to_a_new_job_at_the_front(
    batch_context: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    # JOB_TIMEOUT - FETCH_DEADLINE - margin <= 0: time for one fetch only.
    ctx = batch_context(refresh_batch_size=4, job_timeout=6, fetch_deadline=1.0)
    urls = _schedule(ctx, db, feed_server, 4)
    (job,) = _refresh_jobs(ctx)
    ctx.queues.refresh.connection.delete(ctx.queues.refresh.key)  # a worker took it
    run_fetch_batch(job.id, job.args[1])
    fetches = _fetches(db)
    first, rest = job.args[1][0], job.args[1][1:]
    ran = [u for u in urls if str(fetches[u].id) == first]
    assert fetches[ran[0]].state == FetchState.SUCCEEDED
    (successor,) = _refresh_jobs(ctx)
    assert successor.id != job.id and sorted(successor.args[1]) == sorted(rest)
    waiting = [f for f in fetches.values() if str(f.id) in rest]
    assert {(f.state, str(f.job_id)) for f in waiting} == {(FetchState.QUEUED, successor.id)}


def test_a_dead_workers_batch_puts_each_unfinished_fetch_back_alone(
    batch_context: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = batch_context(refresh_batch_size=5)
    urls = _schedule(ctx, db, feed_server, 3)
    (job,) = _refresh_jobs(ctx)
    done = _fetches(db)[urls[0]]
    with db.session() as session:
        session.execute(
            update(Fetch).where(Fetch.id == done.id).values(state=FetchState.SUCCEEDED)
        )
        session.commit()
    dead = Worker([ctx.queues.refresh], connection=redis, name="deadhost.1.t0")
    dead.register_birth()
    dead.prepare_execution(job)  # it took the job, then died
    assert recover_worker_job(ctx, dead.name) == job.id
    fetches = _fetches(db)
    revived = [fetches[u] for u in urls[1:]]
    assert all(f.state == FetchState.QUEUED and f.job_id is None for f in revived)
    queued = set(ctx.queues.refresh.get_job_ids())
    assert queued == {str(f.id) for f in revived}
    assert not Job.exists(job.id, connection=redis)


def test_the_reconciler_leaves_a_running_batchs_members_to_it(
    batch_context: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = batch_context(refresh_batch_size=5, reconcile_queued_grace=0.01)
    urls = _schedule(ctx, db, feed_server, 2)
    (job,) = _refresh_jobs(ctx)
    queue = Queue(job.origin, connection=redis)
    redis.lrem(queue.key, 0, job.id)
    job.set_status(JobStatus.STARTED)
    redis.zadd(queue.started_job_registry.key, {f"{job.id}:exec1": time.time() + 60})
    time.sleep(0.05)
    assert reconcile(ctx) == 0
    assert {f.job_id for f in _fetches(db).values()} == {uuid.UUID(job.id)}
    # Its claim expired (the whole dyno died): each member gets a job of its own.
    redis.zadd(queue.started_job_registry.key, {f"{job.id}:exec1": time.time() - 1})
    time.sleep(0.05)
    assert reconcile(ctx) == len(urls)
    fetches = _fetches(db).values()
    assert all(f.job_id is None for f in fetches)
    assert set(ctx.queues.refresh.get_job_ids()) == {str(f.id) for f in fetches}


def test_a_batch_writes_the_outcomes_of_its_unchanged_feeds(
    batch_context: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = batch_context(refresh_batch_size=5)
    same = [feed_server.add(f"/same{i}.xml", b"", status=304) for i in range(2)]
    fresh = feed_server.add("/fresh.xml", RSS)
    _due_feeds(db, [*same, fresh])
    enqueue_due_refreshes(ctx)
    (job,) = _refresh_jobs(ctx)
    assert run_fetch_batch(job.id, job.args[1])["unchanged"] == 2
    fetches = _fetches(db)
    assert {fetches[u].state for u in [*same, fresh]} == {FetchState.SUCCEEDED}
    assert all(fetches[u].not_modified and fetches[u].http_status == 304 for u in same)
    with db.session() as session:
        feeds = session.scalars(select(Feed).where(Feed.url.in_(same))).all()
    assert all(f.last_success_at is not None and f.next_fetch_at is not None for f in feeds)


def test_a_batch_that_crashes_still_records_what_it_finished(
    batch_context: Callable[..., JobContext],
    db: Database,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.jobs.fetch as fetch_module

    ctx = batch_context(refresh_batch_size=5)
    urls = [
        feed_server.add("/a.xml", b"", status=304),
        feed_server.add("/boom.xml", RSS),
        feed_server.add("/c.xml", RSS),
    ]
    _due_feeds(db, urls)
    enqueue_due_refreshes(ctx)
    (job,) = _refresh_jobs(ctx)
    real = fetch_module.fetch_feed

    def fetch_or_crash(url: str, *args: object, **kwargs: object) -> object:
        if url.endswith("/boom.xml"):
            raise RuntimeError("a bug")
        return real(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch_module, "fetch_feed", fetch_or_crash)
    order = {u: job.args[1].index(str(f.id)) for u, f in _fetches(db).items()}
    with pytest.raises(RuntimeError):
        run_fetch_batch(job.id, job.args[1])
    fetches = _fetches(db)
    crashed_at = order[urls[1]]
    for url in urls:
        if order[url] < crashed_at:
            assert fetches[url].state == FetchState.SUCCEEDED
        elif order[url] > crashed_at:
            # Claimed, never run: pending, for dead-worker recovery or the reconciler.
            assert fetches[url].state == FetchState.RUNNING
    assert fetches[urls[1]].state == FetchState.FAILED

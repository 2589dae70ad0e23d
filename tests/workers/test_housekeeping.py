"""The supervisor's periodic work (app/workers/housekeeping.py): scheduler and reconciler."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus
from sqlalchemy import select, update

from app.context import JobContext, set_context
from app.jobs.batch import run_fetch_batch
from app.queue.politeness import HostBudget, Lease
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState
from app.workers import housekeeping
from app.workers.housekeeping import Housekeeper, enqueue_due_refreshes, reconcile
from tests.feedserver import FeedServer
from tests.refreshes import RSS, due_feeds, fetches_by_url, refresh_jobs, schedule


def _queued_since(db: Database, *, minutes: float) -> None:
    """Every queued fetch enqueued ``minutes`` ago: past the reconciler's grace."""
    with db.session() as session:
        session.execute(
            update(Fetch)
            .where(Fetch.state == FetchState.QUEUED)
            .values(enqueued_at=datetime.now(UTC) - timedelta(minutes=minutes))
        )
        session.commit()


def test_the_scheduler_puts_refreshes_in_jobs_of_refresh_batch_size(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=3)
    schedule(ctx, db, feed_server, 7)
    jobs = refresh_jobs(ctx)
    assert sorted(len(job.args[1]) for job in jobs) == [1, 3, 3]
    fetches = fetches_by_url(db).values()
    for job in jobs:
        carried = {str(f.id) for f in fetches if f.job_id == uuid.UUID(job.id)}
        assert carried == set(job.args[1])


def test_the_reconciler_leaves_a_running_batchs_members_to_it(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=5, reconcile_queued_grace=60)
    urls = schedule(ctx, db, feed_server, 2)
    (job,) = refresh_jobs(ctx)
    queue = Queue(job.origin, connection=redis)
    redis.lrem(queue.key, 0, job.id)
    job.set_status(JobStatus.STARTED)
    redis.zadd(queue.started_job_registry.key, {f"{job.id}:exec1": time.time() + 60})
    _queued_since(db, minutes=2)
    assert reconcile(ctx) == 0
    assert {f.job_id for f in fetches_by_url(db).values()} == {uuid.UUID(job.id)}
    # Its claim expired (the whole dyno died): each member gets a job of its own.
    redis.zadd(queue.started_job_registry.key, {f"{job.id}:exec1": time.time() - 1})
    _queued_since(db, minutes=2)
    assert reconcile(ctx) == len(urls)
    fetches = fetches_by_url(db).values()
    assert all(f.job_id is None for f in fetches)
    assert set(ctx.queues.refresh.get_job_ids()) == {str(f.id) for f in fetches}


def _next_fetch_times(db: Database) -> list[datetime | None]:
    with db.session() as session:
        return list(session.scalars(select(Feed.next_fetch_at).order_by(Feed.id)))


def test_a_full_refresh_queue_leaves_due_feeds_waiting_in_postgres_until_it_drains(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis,
    feed_server: FeedServer,
) -> None:
    ctx = job_context_with(queue_max_jobs=2, refresh_batch_size=3)
    redis.rpush(ctx.queues.refresh.key, "other-1", "other-2")
    urls = [feed_server.add(f"/w{i}.xml", RSS) for i in range(4)]
    due_feeds(db, urls)
    before = _next_fetch_times(db)
    assert enqueue_due_refreshes(ctx) == 0
    assert fetches_by_url(db) == {} and _next_fetch_times(db) == before
    redis.delete(ctx.queues.refresh.key)  # the workers drained the queue
    assert enqueue_due_refreshes(ctx) == 4
    assert set(fetches_by_url(db)) == set(urls)


def test_the_scheduler_claims_only_what_the_room_left_in_the_queue_can_carry(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis,
    feed_server: FeedServer,
) -> None:
    ctx = job_context_with(queue_max_jobs=2, refresh_batch_size=3)
    redis.rpush(ctx.queues.refresh.key, "other-1")
    due_feeds(db, [feed_server.add(f"/r{i}.xml", RSS) for i in range(7)])
    assert enqueue_due_refreshes(ctx) == 3  # one job of room, three refreshes per job
    assert redis.llen(ctx.queues.refresh.key) == 2


def _with_budget(ctx: JobContext, redis: Redis, lease_seconds: float = 60) -> JobContext:
    """``ctx`` with one fetch at a time per host, installed for the jobs it runs."""
    budget = HostBudget(
        redis,
        prefix=ctx.settings.queue_prefix,
        concurrency=1,
        per_minute=1000,
        lease_seconds=lease_seconds,
    )
    ctx = replace(ctx, budget=budget)
    set_context(ctx)
    return ctx


def _wait_for_localhost(ctx: JobContext, db: Database, feed_server: FeedServer) -> Fetch:
    """A refresh whose host (localhost) is held by another worker: it waits in its list."""
    url = feed_server.add("/waits.xml", RSS).replace("127.0.0.1", "localhost")
    due_feeds(db, [url])
    enqueue_due_refreshes(ctx)
    assert isinstance(ctx.budget.acquire("localhost"), Lease)
    (job,) = refresh_jobs(ctx)
    run_fetch_batch(job.id, job.args[1])
    assert ctx.budget.waiting() == 1
    return fetches_by_url(db)[url]


def test_the_reconciler_leaves_a_fetch_waiting_for_its_host_to_its_list(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = _with_budget(job_context_with(refresh_batch_size=5), redis)
    waiting = _wait_for_localhost(ctx, db, feed_server)
    _queued_since(db, minutes=2)
    assert reconcile(ctx) == 0
    assert str(waiting.id) not in ctx.queues.refresh.get_job_ids()
    assert str(waiting.id) in ctx.queues.refresh.scheduled_job_registry.get_job_ids()


def test_a_fetch_waiting_for_its_host_is_enqueued_again_when_redis_loses_it(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = _with_budget(job_context_with(refresh_batch_size=5), redis)
    waiting = _wait_for_localhost(ctx, db, feed_server)
    redis.flushdb()  # Redis restarted empty
    _queued_since(db, minutes=2)
    assert reconcile(ctx) == 1
    assert ctx.queues.refresh.get_job_ids() == [str(waiting.id)]


def test_housekeeping_promotes_the_waiters_of_a_host_whose_lease_expired(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = _with_budget(job_context_with(refresh_batch_size=5), redis, lease_seconds=0.3)
    waiting = _wait_for_localhost(ctx, db, feed_server)  # the holder never releases: it died
    assert str(waiting.id) not in ctx.queues.refresh.get_job_ids()
    time.sleep(0.4)
    Housekeeper(ctx)()
    assert ctx.queues.refresh.get_job_ids()[0] == str(waiting.id)


def test_a_worker_dyno_publishes_its_metrics_every_metrics_publish_seconds(
    job_context_with: Callable[..., JobContext], redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = job_context_with(metrics_publish_every=2.0)
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(housekeeping, "time", SimpleNamespace(monotonic=lambda: clock.now))
    key = f"{ctx.settings.queue_prefix}:metrics:dyno:{ctx.settings.dyno_name('worker')}"
    keeper = Housekeeper(ctx)
    published = []
    for now in (1000.0, 1001.5, 1002.5, 1004.0, 1004.6):
        clock.now = now
        redis.delete(key)
        keeper()
        published.append(bool(redis.exists(key)))
    assert published == [True, False, True, False, True]


def test_housekeeping_says_more_feeds_are_due_after_a_full_claim_and_not_after_the_last(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=2)
    due_feeds(db, [feed_server.add(f"/c{i}.xml", RSS) for i in range(5)])
    keeper = Housekeeper(ctx, claim_size=2)

    assert [keeper(), keeper(), keeper()] == [True, True, False]
    assert len(fetches_by_url(db)) == 5


def test_the_scheduler_takes_stale_schedule_rows_away_and_says_more_are_due(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=2)
    urls = [feed_server.add(f"/m{i}.xml", RSS) for i in range(3)]
    due_feeds(db, urls)  # due 5 s ago
    now = datetime.now(UTC)
    with db.session() as session:  # every feed moved on: its first due row is stale
        session.execute(
            update(Feed)
            .where(Feed.url.in_(urls[:2]))
            .values(next_fetch_at=now + timedelta(hours=1))
        )
        session.execute(
            update(Feed).where(Feed.url == urls[2]).values(next_fetch_at=now - timedelta(seconds=1))
        )
        session.commit()

    passes = [housekeeping.schedule_due(ctx, limit=2) for _ in range(3)]

    assert [(p.created, p.more_due) for p in passes] == [(0, True), (1, True), (0, False)]

"""Refresh jobs that carry many fetches (app/jobs/batch.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from redis import Redis
from sqlalchemy import select, update

from app.context import JobContext, set_context
from app.jobs.batch import run_fetch_batch
from app.queue.politeness import HostBudget, Lease
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState
from app.workers.housekeeping import enqueue_due_refreshes
from tests.feedserver import FeedServer
from tests.refreshes import RSS, due_feeds, fetches_by_url, refresh_jobs, schedule


def test_a_worker_runs_every_fetch_of_a_batch_job_once(
    job_context_with: Callable[..., JobContext],
    db: Database,
    feed_server: FeedServer,
    run_worker_burst: Callable[..., object],
) -> None:
    ctx = job_context_with(refresh_batch_size=4)
    urls = schedule(ctx, db, feed_server, 9)
    run_worker_burst()
    fetches = fetches_by_url(db)
    assert {f.state for f in fetches.values()} == {FetchState.SUCCEEDED}
    assert all(feed_server.hits(f"/b{i}.xml") == 1 for i in range(len(urls)))


def test_a_fetch_handed_to_its_own_job_is_skipped_by_its_old_batch(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=5)
    urls = schedule(ctx, db, feed_server, 3)
    (job,) = refresh_jobs(ctx)
    taken = fetches_by_url(db)[urls[0]]
    with db.session() as session:
        session.execute(update(Fetch).where(Fetch.id == taken.id).values(job_id=None))
        session.commit()
    run_fetch_batch(job.id, job.args[1])
    fetches = fetches_by_url(db)
    assert fetches[urls[0]].state == FetchState.QUEUED
    assert feed_server.hits("/b0.xml") == 0
    assert {fetches[u].state for u in urls[1:]} == {FetchState.SUCCEEDED}


def test_a_member_over_its_host_budget_gets_its_own_job_waiting_for_the_host(
    job_context_with: Callable[..., JobContext],
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
) -> None:
    ctx = job_context_with(refresh_batch_size=5)
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
    due_feeds(db, [busy, free])
    enqueue_due_refreshes(ctx)
    held = ctx.budget.acquire("localhost")  # another worker holds the host
    assert isinstance(held, Lease)
    (job,) = refresh_jobs(ctx)
    run_fetch_batch(job.id, job.args[1])
    fetches = fetches_by_url(db)
    assert fetches[free].state == FetchState.SUCCEEDED
    deferred = fetches[busy]
    assert deferred.state == FetchState.QUEUED and deferred.job_id is None
    assert str(deferred.id) in ctx.queues.refresh.scheduled_job_registry.get_job_ids()
    assert ctx.budget.waiting() == 1
    assert ctx.budget.release(held) == [str(deferred.id)]
    assert ctx.queues.refresh.get_job_ids()[0] == str(deferred.id)


def test_a_batch_past_its_time_budget_hands_the_rest_to_a_new_job_at_the_front(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    # JOB_TIMEOUT - FETCH_DEADLINE - margin <= 0: time for one fetch only.
    ctx = job_context_with(refresh_batch_size=4, job_timeout=6, fetch_deadline=1.0)
    urls = schedule(ctx, db, feed_server, 4)
    (job,) = refresh_jobs(ctx)
    ctx.queues.refresh.connection.delete(ctx.queues.refresh.key)  # a worker took it
    run_fetch_batch(job.id, job.args[1])
    fetches = fetches_by_url(db)
    first, rest = job.args[1][0], job.args[1][1:]
    ran = [u for u in urls if str(fetches[u].id) == first]
    assert fetches[ran[0]].state == FetchState.SUCCEEDED
    (successor,) = refresh_jobs(ctx)
    assert successor.id != job.id and sorted(successor.args[1]) == sorted(rest)
    waiting = [f for f in fetches.values() if str(f.id) in rest]
    assert {(f.state, str(f.job_id)) for f in waiting} == {(FetchState.QUEUED, successor.id)}


def test_a_batch_writes_the_outcomes_of_its_unchanged_feeds(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=5)
    same = [feed_server.add(f"/same{i}.xml", b"", status=304) for i in range(2)]
    fresh = feed_server.add("/fresh.xml", RSS)
    due_feeds(db, [*same, fresh])
    enqueue_due_refreshes(ctx)
    (job,) = refresh_jobs(ctx)
    assert run_fetch_batch(job.id, job.args[1])["unchanged"] == 2
    fetches = fetches_by_url(db)
    assert {fetches[u].state for u in [*same, fresh]} == {FetchState.SUCCEEDED}
    assert all(fetches[u].not_modified and fetches[u].http_status == 304 for u in same)
    with db.session() as session:
        feeds = session.scalars(select(Feed).where(Feed.url.in_(same))).all()
    assert all(f.last_success_at is not None and f.next_fetch_at is not None for f in feeds)


def test_a_batch_that_crashes_still_records_what_it_finished(
    job_context_with: Callable[..., JobContext],
    db: Database,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.jobs.fetch as fetch_module

    ctx = job_context_with(refresh_batch_size=5)
    urls = [
        feed_server.add("/a.xml", b"", status=304),
        feed_server.add("/boom.xml", RSS),
        feed_server.add("/c.xml", RSS),
    ]
    due_feeds(db, urls)
    enqueue_due_refreshes(ctx)
    (job,) = refresh_jobs(ctx)
    real = fetch_module.fetch_feed

    def fetch_or_crash(url: str, *args: object, **kwargs: object) -> object:
        if url.endswith("/boom.xml"):
            raise RuntimeError("a bug")
        return real(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch_module, "fetch_feed", fetch_or_crash)
    order = {u: job.args[1].index(str(f.id)) for u, f in fetches_by_url(db).items()}
    with pytest.raises(RuntimeError):
        run_fetch_batch(job.id, job.args[1])
    fetches = fetches_by_url(db)
    crashed_at = order[urls[1]]
    for url in urls:
        if order[url] < crashed_at:
            assert fetches[url].state == FetchState.SUCCEEDED
        elif order[url] > crashed_at:
            # Claimed, never run: pending, for dead-worker recovery or the reconciler.
            assert fetches[url].state == FetchState.RUNNING
    assert fetches[urls[1]].state == FetchState.FAILED

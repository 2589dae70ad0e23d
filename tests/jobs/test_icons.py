"""Feed icons: the fetch job asks for a search when the icon is due, and the search
runs as a job of its own on the icons queue, within its hosts' politeness budget."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.context import JobContext, set_context
from app.jobs import icons as icon_jobs
from app.jobs.fetch import run_one
from app.queue.icons import icon_job_id
from app.queue.politeness import HostBudget, Lease
from app.storage.db import Database
from app.storage.feeds import upsert_feed
from app.storage.fetches import create_fetch
from app.storage.models import Feed, FeedIcon, Fetch, FetchState, FetchTrigger
from app.workers.rqworker import FeedWorker
from tests.conftest import WorkerDyno, wait_for
from tests.feedserver import FeedServer, Request, Response

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


def _rss(icon_path: str, title: str = "t") -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>
    <image><url>{icon_path}</url><title>t</title><link>/</link></image>
    <item><guid>1</guid><title>one</title></item></channel></rss>""".encode()


def _fetch(ctx: JobContext, db: Database, url: str) -> tuple[int, FetchState]:
    with db.session() as session:
        feed, _ = upsert_feed(session, url)
        fetch, _ = create_fetch(session, feed.id, FetchTrigger.SUBMITTED)
        session.commit()
        feed_id, fetch_id = feed.id, fetch.id
    run_one(ctx, fetch_id)
    with db.session() as session:
        state = session.get(Fetch, fetch_id)
        assert state is not None
        return feed_id, state.state


def _icon(db: Database, feed_id: int) -> FeedIcon | None:
    with db.session() as session:
        return session.get(FeedIcon, feed_id)


def _run_icon_jobs(ctx: JobContext) -> None:
    """Run the queued icon searches in this process, as a worker does."""
    FeedWorker([ctx.queues.icons], connection=ctx.queues.redis).work(burst=True)


def _fetch_and_search(ctx: JobContext, db: Database, url: str) -> tuple[int, FetchState]:
    feed_id, state = _fetch(ctx, db, url)
    _run_icon_jobs(ctx)
    return feed_id, state


def _queued_icon_jobs(ctx: JobContext) -> list[str]:
    return ctx.queues.icons.get_job_ids()


def test_a_fetch_stores_the_icon_its_feed_names(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, state = _fetch_and_search(job_context, db, url)
    icon = _icon(db, feed_id)
    assert state == FetchState.SUCCEEDED
    assert icon is not None and icon.body == PNG and icon.content_type == "image/png"
    assert icon.declared_url == feed_server.url("/icon.png") and icon.error is None


def test_an_icon_not_due_is_not_fetched_again(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    versions = iter([_rss("/icon.png", "one"), _rss("/icon.png", "two")])
    body = {"now": next(versions)}

    url = feed_server.route(
        "/f.xml", lambda _r: Response(200, body["now"], {"Content-Type": "application/rss+xml"})
    )
    _fetch_and_search(job_context, db, url)
    body["now"] = next(versions)  # a changed document, so the job asks whether the icon is due
    _fetch_and_search(job_context, db, url)
    assert feed_server.hits("/icon.png") == 1


def test_a_feed_without_any_icon_records_why(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    url = feed_server.add("/f.xml", _rss("/missing.png"))
    feed_id, state = _fetch_and_search(job_context, db, url)
    icon = _icon(db, feed_id)
    assert state == FetchState.SUCCEEDED
    assert icon is not None and icon.body is None and icon.error
    assert feed_server.hits("/favicon.ico") == 1


def test_a_zero_size_cap_turns_icons_off(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    ctx = job_context_with(feed_icon_max_bytes=0)
    feed_id, _ = _fetch_and_search(ctx, db, url)
    assert _icon(db, feed_id) is None and feed_server.hits("/icon.png") == 0
    assert _queued_icon_jobs(ctx) == []


def test_a_broken_icon_search_never_fails_the_fetch_and_is_recorded(
    job_context: JobContext,
    db: Database,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(icon_jobs, "find_icon", broken)
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, state = _fetch_and_search(job_context, db, url)
    icon = _icon(db, feed_id)
    assert state == FetchState.SUCCEEDED
    assert icon is not None and "unexpectedly" in (icon.error or "")


def test_the_fetch_queues_the_icon_search_and_downloads_no_icon_itself(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, state = _fetch(job_context, db, url)
    assert state == FetchState.SUCCEEDED
    assert feed_server.hits("/icon.png") == 0 and _icon(db, feed_id) is None
    assert _queued_icon_jobs(job_context) == [
        icon_job_id(job_context.settings.queue_prefix, feed_id)
    ]


def test_the_icon_job_stores_the_icon(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, _ = _fetch(job_context, db, url)
    job = Job.fetch(_queued_icon_jobs(job_context)[0], connection=job_context.queues.redis)
    _run_icon_jobs(job_context)
    icon = _icon(db, feed_id)
    assert icon is not None and icon.body == PNG and icon.source_url == feed_server.url("/icon.png")
    # Done and forgotten: the outcome is in Postgres, nothing is kept in Redis.
    assert not job.exists(job.id, connection=job_context.queues.redis)


def test_a_second_due_fetch_does_not_queue_a_second_icon_search(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    body = {"now": _rss("/icon.png", "one")}
    url = feed_server.route(
        "/f.xml", lambda _r: Response(200, body["now"], {"Content-Type": "application/rss+xml"})
    )
    feed_id, _ = _fetch(job_context, db, url)
    body["now"] = _rss("/icon.png", "two")  # changed, and the icon is still due
    _fetch(job_context, db, url)
    assert _queued_icon_jobs(job_context) == [
        icon_job_id(job_context.settings.queue_prefix, feed_id)
    ]
    _run_icon_jobs(job_context)
    assert feed_server.hits("/icon.png") == 1


def test_a_full_icons_queue_skips_the_search_until_a_later_fetch(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    ctx = job_context_with(queue_max_jobs=4)  # the icons queue holds one
    feed_server.add("/icon.png", PNG, content_type="image/png")
    first, _ = _fetch(ctx, db, feed_server.add("/a.xml", _rss("/icon.png", "a")))
    second, state = _fetch(ctx, db, feed_server.add("/b.xml", _rss("/icon.png", "b")))
    prefix = ctx.settings.queue_prefix
    assert state == FetchState.SUCCEEDED
    assert _queued_icon_jobs(ctx) == [icon_job_id(prefix, first)]  # full: b's was dropped
    _run_icon_jobs(ctx)
    _fetch(ctx, db, feed_server.add("/b.xml", _rss("/icon.png", "b, changed")))
    assert _queued_icon_jobs(ctx) == [icon_job_id(prefix, second)]  # still due: asked again


def test_an_icon_host_over_its_budget_is_left_for_a_later_search(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    budget = job_context.budget
    strict = HostBudget(
        job_context.queues.redis,
        prefix=budget.prefix,
        concurrency=1,
        per_minute=1000,
        lease_seconds=budget.lease_seconds,
    )
    ctx = replace(job_context, budget=strict)
    set_context(ctx)
    feed_server.add("/icon.png", PNG, content_type="image/png")
    # The icon is on another host than the feed: the icon's host is the one that counts.
    icon_url = feed_server.url("/icon.png", host="localhost")
    body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <image><url>{icon_url}</url><title>t</title><link>/</link></image></channel></rss>"""
    feed_id, _ = _fetch(ctx, db, feed_server.add("/f.xml", body))
    busy = strict.acquire("localhost")  # a fetch of that host is running
    assert isinstance(busy, Lease)
    _run_icon_jobs(ctx)
    assert feed_server.hits("/icon.png") == 0 and _icon(db, feed_id) is None
    strict.release(busy)
    assert icon_jobs.search_icon(ctx, feed_id, icon_url) == {"found": True}
    assert feed_server.hits("/icon.png") == 1
    assert strict.redis.zcard(f"{strict.prefix}:host:localhost:running") == 0  # given back


def test_a_fetch_finishes_and_frees_its_slot_while_a_slow_icon_search_runs(
    client: FlaskClient,
    db: Database,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
    job_context: JobContext,
) -> None:
    answer = threading.Event()

    def slow_icon(_req: Request) -> Response:
        answer.wait(60)  # held until the test has seen the fetch finish
        return Response(200, PNG, {"Content-Type": "image/png"})

    feed_server.route("/slow.png", slow_icon)
    icon_url = feed_server.url("/slow.png", host="localhost")
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <image><url>{icon_url}</url><title>t</title><link>/</link></image>
    <item><guid>1</guid><title>one</title></item></channel></rss>"""
    client.post("/feeds", json={"url": feed_server.add("/slow-icon.xml", rss)})
    start_worker(concurrency=1, WORKER_THREADS="2")
    redis, prefix = job_context.queues.redis, job_context.settings.queue_prefix

    def fetch_states() -> list[FetchState]:
        with db.session() as session:
            return list(session.scalars(select(Fetch.state).order_by(Fetch.created_at)))

    wait_for(lambda: feed_server.hits("/slow.png") == 1, timeout=40)
    with db.session() as session:
        feed_id = session.scalars(select(Feed.id)).one()
    # The icon is being downloaded, and the fetch that asked for it is over: succeeded,
    # its host slot given back, while the icon job holds the icon host's slot.
    job = Job.fetch(icon_job_id(prefix, feed_id), connection=redis)
    assert fetch_states() == [FetchState.SUCCEEDED]
    assert job.get_status() == JobStatus.STARTED and _icon(db, feed_id) is None
    assert redis.zcard(f"{prefix}:host:127.0.0.1:running") == 0
    assert redis.zcard(f"{prefix}:host:localhost:running") == 1
    # Another feed is fetched meanwhile, by the worker's other thread.
    client.post("/feeds", json={"url": feed_server.add("/other.xml", _rss("/none.png"))})
    wait_for(lambda: fetch_states() == [FetchState.SUCCEEDED] * 2, timeout=40)
    assert _icon(db, feed_id) is None
    answer.set()
    wait_for(lambda: _icon(db, feed_id) is not None, timeout=40)
    icon = _icon(db, feed_id)
    assert icon is not None and icon.body == PNG

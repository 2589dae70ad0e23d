"""Due feeds and the refresh jobs that carry them, for the batch job and housekeeping tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job
from sqlalchemy import insert, select

from app.context import JobContext
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch
from app.workers.housekeeping import enqueue_due_refreshes
from tests.conftest import follow
from tests.feedserver import FIXTURES, FeedServer

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


def due_feeds(db: Database, urls: list[str]) -> None:
    """Active feeds at ``urls``, due five seconds ago, followed by someone (the scheduler
    refreshes only feeds someone follows)."""
    due = datetime.now(UTC) - timedelta(seconds=5)
    with db.session() as session:
        ids = session.scalars(
            insert(Feed).returning(Feed.id),
            [
                {"url": url, "current_url": url, "state": FeedState.ACTIVE, "next_fetch_at": due}
                for url in urls
            ],
        ).all()
        session.commit()
    for feed_id in ids:
        follow(db, feed_id)


def fetches_by_url(db: Database) -> dict[str, Fetch]:
    """Every fetch by its feed's URL."""
    with db.session() as session:
        rows = session.execute(select(Feed.url, Fetch).join(Fetch, Fetch.feed_id == Feed.id))
        return {url: fetch for url, fetch in rows}


def refresh_jobs(ctx: JobContext) -> list[Job]:
    """The jobs waiting in the refresh queue."""
    return [job for job in ctx.queues.refresh.get_jobs() if job is not None]


def schedule(ctx: JobContext, db: Database, server: FeedServer, count: int) -> list[str]:
    """``count`` due feeds served by ``server``, enqueued by the scheduler; their URLs."""
    urls = [server.add(f"/b{i}.xml", RSS) for i in range(count)]
    due_feeds(db, urls)
    assert enqueue_due_refreshes(ctx) == count
    return urls

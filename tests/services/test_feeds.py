"""A person's and the admin's actions on feeds (app/services/feeds.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.config import Settings
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.services import feeds
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger

NOW = datetime.now(UTC)


def _failing(db: Database, count: int, code: str = "timeout") -> list[int]:
    with db.session() as session:
        rows = [
            Feed(url=f"https://e.example/{i}", current_url=f"https://e.example/{i}",
                 state=FeedState.ERROR, last_error_code=code)  # fmt: skip
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        session.add_all(
            Fetch(feed_id=feed.id, trigger=FetchTrigger.REFRESH, state=FetchState.FAILED,
                  error_code=code, finished_at=NOW)  # fmt: skip
            for feed in rows
        )
        session.commit()
        return [feed.id for feed in rows]


def test_a_paused_feed_read_before_the_pause_shows_it_afterwards(db: Database) -> None:
    (feed_id,) = _failing(db, 1)
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None and feed.state == FeedState.ERROR
        assert feeds.pause_feed(session, feed_id)
        assert feed.state == FeedState.PAUSED and feed.next_fetch_at is None
        assert feeds.resume_feed(session, feed_id)
        assert feed.state == FeedState.ACTIVE and feed.error_count == 0


def test_resume_paused_feeds_commits_and_counts(db: Database) -> None:
    (feed_id,) = _failing(db, 1)
    with db.session() as session:
        feeds.pause_feed(session, feed_id)
        assert feeds.resume_paused_feeds(session) == 1
    with db.session() as session:
        assert session.get(Feed, feed_id).state == FeedState.ACTIVE  # type: ignore[union-attr]


def test_delete_feed_commits(db: Database) -> None:
    (feed_id,) = _failing(db, 1)
    with db.session() as session:
        assert feeds.delete_feed(session, feed_id)
    with db.session() as session:
        assert session.scalar(select(Feed.id)) is None


def test_requeue_failing_gives_each_feed_failing_with_the_code_one_fetch(
    db: Database, queues: Queues
) -> None:
    failing = _failing(db, 3)
    with db.session() as session:
        result = feeds.requeue_failing(session, queues, "timeout", since=NOW - timedelta(hours=1))
        again = feeds.requeue_failing(session, queues, "timeout", since=NOW - timedelta(hours=1))
        queued = session.scalars(select(Fetch.feed_id).where(Fetch.state == FetchState.QUEUED))
        assert sorted(queued) == failing
    assert result == feeds.Requeued(3, stopped=False)
    assert again == feeds.Requeued(0, stopped=False)  # each already has its pending fetch
    assert queues.submissions.count == 3


def test_requeue_failing_stops_and_says_so_when_redis_refuses(
    db: Database, settings: Settings
) -> None:
    _failing(db, 2)
    dead = Queues(redis_from_url("redis://127.0.0.1:1/0"), replace(settings))
    with db.session() as session:
        result = feeds.requeue_failing(session, dead, "timeout", since=NOW - timedelta(hours=1))
    assert result == feeds.Requeued(0, stopped=True)

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.storage.db import Database
from app.storage.feeds import record_failure, record_success
from app.storage.models import Feed, FeedState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _feed(db: Database, state: FeedState) -> Feed:
    with db.session() as session:
        feed = Feed(url="https://e.com/f", current_url="https://e.com/f", state=state)
        session.add(feed)
        session.commit()
        return feed


def _succeed(db: Database, feed_id: int) -> Feed:
    with db.session() as session:
        record_success(
            session, feed_id, now=NOW, next_fetch_at=NOW + timedelta(hours=1), interval=3600
        )
        session.commit()
        feed = session.get(Feed, feed_id)
        assert feed is not None
        return feed


def test_success_makes_a_failing_feed_active_with_a_clean_error_slate(db: Database) -> None:
    feed = _feed(db, FeedState.ERROR)
    with db.session() as session:
        stored = session.get(Feed, feed.id)
        assert stored is not None
        record_failure(session, stored, now=NOW, code="timeout", message="slow", next_fetch_at=NOW)
        session.commit()
    feed = _succeed(db, feed.id)
    assert feed.state == FeedState.ACTIVE
    assert feed.error_count == 0 and feed.last_error is None
    assert feed.next_fetch_at == NOW + timedelta(hours=1)


def test_a_pause_made_during_a_fetch_survives_its_success(db: Database) -> None:
    feed = _succeed(db, _feed(db, FeedState.PAUSED).id)
    assert feed.state == FeedState.PAUSED
    assert feed.next_fetch_at is None


def test_failure_of_a_paused_feed_keeps_it_paused(db: Database) -> None:
    feed = _feed(db, FeedState.PAUSED)
    with db.session() as session:
        stored = session.get(Feed, feed.id)
        assert stored is not None
        record_failure(session, stored, now=NOW, code="timeout", message="slow", next_fetch_at=NOW)
        session.commit()
        assert stored.state == FeedState.PAUSED and stored.next_fetch_at is None
        assert stored.error_count == 1

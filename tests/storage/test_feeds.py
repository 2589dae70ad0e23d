from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.storage.db import Database
from app.storage.feeds import Success, record_failure, record_success
from app.storage.fetches import create_fetch, finish_fetch
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SUCCESS = Success(now=NOW, next_fetch_at=NOW + timedelta(hours=1), interval=3600, etag='"v2"')


def _feed(db: Database, state: FeedState) -> Feed:
    with db.session() as session:
        feed = Feed(url="https://e.com/f", current_url="https://e.com/f", state=state)
        session.add(feed)
        session.commit()
        return feed


def _succeed(db: Database, feed_id: int) -> Feed:
    with db.session() as session:
        fetch, _ = create_fetch(session, feed_id, FetchTrigger.REFRESH)
        assert record_success(session, fetch.id, SUCCESS)
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


def test_a_success_for_a_fetch_that_already_ended_changes_nothing(db: Database) -> None:
    feed = _feed(db, FeedState.ERROR)
    with db.session() as session:
        fetch, _ = create_fetch(session, feed.id, FetchTrigger.MANUAL)
        finish_fetch(session, fetch.id, state=FetchState.FAILED, error_code="timeout")
        assert not record_success(session, fetch.id, SUCCESS)
        session.commit()
        stored = session.get(Feed, feed.id)
        ended = session.get(Fetch, fetch.id, populate_existing=True)
    assert stored is not None and stored.state == FeedState.ERROR and stored.etag is None
    assert ended is not None and ended.state == FetchState.FAILED


def test_a_success_finishes_its_fetch_with_what_it_did(db: Database) -> None:
    feed = _feed(db, FeedState.ACTIVE)
    with db.session() as session:
        fetch, _ = create_fetch(session, feed.id, FetchTrigger.REFRESH)
        record_success(session, fetch.id, replace(SUCCESS, http_status=304, not_modified=True))
        session.commit()
        done = session.get(Fetch, fetch.id, populate_existing=True)
        stored = session.get(Feed, feed.id)
    assert done is not None and done.state == FetchState.SUCCEEDED
    assert done.http_status == 304 and done.not_modified and done.finished_at is not None
    assert stored is not None and stored.etag == '"v2"' and stored.refresh_interval == 3600

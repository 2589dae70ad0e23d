"""A fetch's outcome written to its fetch and its feed (app/storage/outcomes.py), against
real Postgres, and held against the pure rules of app/feed_state.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.feed_state import AFTER_SUCCESS, STOPPED, FeedState, Policy, after_failure
from app.storage.db import Database
from app.storage.fetches import create_fetch, finish_fetch
from app.storage.models import Feed, Fetch, FetchState, FetchTrigger
from app.storage.outcomes import (
    Success,
    lock_feed_state,
    record_failure,
    record_success,
    record_successes,
)
from tests.storage.rows import add_feed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SUCCESS = Success(now=NOW, next_fetch_at=NOW + timedelta(hours=1), interval=3600, etag='"v2"')
POLICY = Policy(refresh_default=1800, refresh_min=300, refresh_max=86400, max_errors=10)


def _feed(db: Database, state: FeedState, **values: object) -> int:
    with db.session() as session:
        feed = add_feed(session, state=state, next_fetch_at=NOW, **values)
        session.commit()
        return feed.id


def _read(db: Database, feed_id: int) -> Feed:
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        return feed


def _succeed(db: Database, feed_id: int) -> Feed:
    with db.session() as session:
        fetch, _ = create_fetch(session, feed_id, FetchTrigger.REFRESH)
        assert record_success(session, fetch.id, SUCCESS)
        session.commit()
    return _read(db, feed_id)


def _fail(db: Database, feed_id: int, http_status: int = 500) -> Feed:
    with db.session() as session:
        state, errors = lock_feed_state(session, feed_id)
        change = after_failure(
            POLICY, state, errors, now=NOW, http_status=http_status, retry_after=None
        )
        record_failure(session, feed_id, change, now=NOW, code="timeout", message="slow")
        session.commit()
    return _read(db, feed_id)


@pytest.mark.parametrize("state", list(FeedState))
def test_the_success_statement_moves_each_state_as_the_rules_say(
    db: Database, state: FeedState
) -> None:
    feed = _succeed(db, _feed(db, state))
    assert feed.state == AFTER_SUCCESS[state]
    expected_next = None if AFTER_SUCCESS[state] in STOPPED else SUCCESS.next_fetch_at
    assert feed.next_fetch_at == expected_next


def test_success_makes_a_failing_feed_active_with_a_clean_error_slate(db: Database) -> None:
    feed_id = _feed(db, FeedState.ACTIVE)
    assert _fail(db, feed_id).state == FeedState.ERROR
    feed = _succeed(db, feed_id)
    assert feed.state == FeedState.ACTIVE
    assert feed.error_count == 0 and feed.last_error is None and feed.last_error_code is None
    assert feed.next_fetch_at == NOW + timedelta(hours=1)


def test_a_pause_made_during_a_fetch_survives_its_success(db: Database) -> None:
    feed = _succeed(db, _feed(db, FeedState.PAUSED))
    assert feed.state == FeedState.PAUSED
    assert feed.next_fetch_at is None


def test_a_failure_is_written_as_the_rules_decided(db: Database) -> None:
    feed = _fail(db, _feed(db, FeedState.ACTIVE, error_count=2))
    assert (feed.state, feed.error_count) == (FeedState.ERROR, 3)
    assert feed.next_fetch_at == NOW + timedelta(seconds=1200)
    assert (feed.last_error_code, feed.last_error, feed.last_fetched_at) == ("timeout", "slow", NOW)


def test_failure_of_a_paused_feed_keeps_it_paused(db: Database) -> None:
    feed = _fail(db, _feed(db, FeedState.PAUSED))
    assert feed.state == FeedState.PAUSED and feed.next_fetch_at is None
    assert feed.error_count == 1


def test_a_410_marks_even_a_paused_feed_gone(db: Database) -> None:
    feed = _fail(db, _feed(db, FeedState.PAUSED), http_status=410)
    assert feed.state == FeedState.GONE and feed.next_fetch_at is None


def test_a_success_for_a_fetch_that_already_ended_changes_nothing(db: Database) -> None:
    feed_id = _feed(db, FeedState.ERROR)
    with db.session() as session:
        fetch, _ = create_fetch(session, feed_id, FetchTrigger.MANUAL)
        finish_fetch(session, fetch.id, state=FetchState.FAILED, error_code="timeout")
        assert not record_success(session, fetch.id, SUCCESS)
        session.commit()
        ended = session.get(Fetch, fetch.id, populate_existing=True)
    stored = _read(db, feed_id)
    assert stored.state == FeedState.ERROR and stored.etag is None
    assert ended is not None and ended.state == FetchState.FAILED


def test_a_success_finishes_its_fetch_with_what_it_did(db: Database) -> None:
    feed_id = _feed(db, FeedState.ACTIVE)
    with db.session() as session:
        fetch, _ = create_fetch(session, feed_id, FetchTrigger.REFRESH)
        record_success(session, fetch.id, replace(SUCCESS, http_status=304, not_modified=True))
        session.commit()
        done = session.get(Fetch, fetch.id, populate_existing=True)
    stored = _read(db, feed_id)
    assert done is not None and done.state == FetchState.SUCCEEDED
    assert done.http_status == 304 and done.not_modified and done.finished_at is not None
    assert stored.etag == '"v2"' and stored.refresh_interval == 3600


def test_many_successes_are_written_together(db: Database) -> None:
    with db.session() as session:
        feeds = [add_feed(session, f"https://e.example/{i}") for i in range(3)]
        fetches = [create_fetch(session, f.id, FetchTrigger.REFRESH)[0] for f in feeds]
        record_successes(session, [(fetch.id, SUCCESS) for fetch in fetches])
        session.commit()
        done = session.scalars(select(Fetch.state).where(Fetch.id.in_([f.id for f in fetches])))
        assert set(done) == {FetchState.SUCCEEDED}


def _claimed(db: Database, interval: int) -> int:
    """An active feed as the scheduler leaves it: claimed, next fetch 50 minutes on."""
    with db.session() as session:
        feed = add_feed(
            session,
            state=FeedState.ACTIVE,
            refresh_interval=interval,
            next_fetch_at=NOW + timedelta(minutes=50),
        )
        session.commit()
        return feed.id


def _succeed_as(db: Database, feed_id: int, trigger: FetchTrigger) -> tuple[Feed, int]:
    """Record SUCCESS for a ``trigger`` fetch; returns the feed and how many of the
    transaction's updates of feeds were HOT (written in place, no index entries)."""
    with db.session() as session:
        fetch, _ = create_fetch(session, feed_id, trigger)
        session.commit()
        assert record_success(session, fetch.id, SUCCESS)
        hot = session.scalar(text("SELECT pg_stat_get_xact_tuples_hot_updated('feeds'::regclass)"))
        session.commit()
    return _read(db, feed_id), int(hot or 0)


def test_a_refresh_that_keeps_its_interval_keeps_the_claimed_next_fetch_time(
    db: Database,
) -> None:
    feed, _ = _succeed_as(db, _claimed(db, interval=3600), FetchTrigger.REFRESH)
    assert feed.next_fetch_at == NOW + timedelta(minutes=50)
    assert feed.last_success_at == NOW and feed.etag == '"v2"'


def test_a_refresh_that_keeps_its_interval_updates_its_feed_in_place(db: Database) -> None:
    _, hot = _succeed_as(db, _claimed(db, interval=3600), FetchTrigger.REFRESH)
    assert hot == 1


def test_a_refresh_whose_interval_changes_gets_the_new_next_fetch_time(db: Database) -> None:
    feed, _ = _succeed_as(db, _claimed(db, interval=1800), FetchTrigger.REFRESH)
    assert feed.next_fetch_at == SUCCESS.next_fetch_at and feed.refresh_interval == 3600


@pytest.mark.parametrize("trigger", [FetchTrigger.MANUAL, FetchTrigger.SUBMITTED])
def test_a_fetch_a_person_asked_for_sets_the_next_fetch_time_from_its_end(
    db: Database, trigger: FetchTrigger
) -> None:
    feed, _ = _succeed_as(db, _claimed(db, interval=3600), trigger)
    assert feed.next_fetch_at == SUCCESS.next_fetch_at

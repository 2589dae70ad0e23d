"""Aggregates for the dashboard (app/storage/stats.py) against real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.storage import stats
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger

NOW = datetime.now(UTC).replace(second=30, microsecond=0)


def _feed(session, url: str, **values: object) -> Feed:  # noqa: ANN001
    feed = Feed(url=url, current_url=url, **values)
    session.add(feed)
    session.flush()
    return feed


def _fetch(
    session,
    feed: Feed,
    state: FetchState,
    *,
    finished_ago: float = 0,  # noqa: ANN001
    took: float = 1.0,
    code: str | None = None,
    message: str | None = None,
) -> Fetch:
    finished = NOW - timedelta(seconds=finished_ago)
    fetch = Fetch(
        feed_id=feed.id,
        trigger=FetchTrigger.REFRESH,
        state=state,
        created_at=finished - timedelta(seconds=took),
        finished_at=finished if not state.pending else None,
        error_code=code,
        error_message=message,
    )
    session.add(fetch)
    session.flush()
    return fetch


def test_fetches_by_minute_counts_outcomes_and_latency_per_minute(db: Database) -> None:
    with db.session() as session:
        feed = _feed(session, "https://a.example/")
        _fetch(session, feed, FetchState.SUCCEEDED, took=2.0)
        _fetch(session, feed, FetchState.SUCCEEDED, finished_ago=1, took=4.0)
        _fetch(session, feed, FetchState.FAILED, finished_ago=2, took=6.0, code="timeout")
        _fetch(session, feed, FetchState.SUCCEEDED, finished_ago=120, took=1.0)
        session.commit()
        minutes = stats.fetches_by_minute(session, now=NOW, minutes=60)
    assert len(minutes) == 60
    assert minutes[-1].minute == NOW.replace(second=0)
    last = minutes[-1]
    assert (last.succeeded, last.failed) == (2, 1)
    assert round(last.avg_latency, 3) == 4.0 and round(last.max_latency, 3) == 6.0
    assert minutes[-3].succeeded == 1
    assert sum(m.total for m in minutes) == 4


def test_fetches_by_minute_leaves_out_older_fetches(db: Database) -> None:
    with db.session() as session:
        feed = _feed(session, "https://a.example/")
        _fetch(session, feed, FetchState.SUCCEEDED, finished_ago=2 * 3600)
        session.commit()
        minutes = stats.fetches_by_minute(session, now=NOW, minutes=60)
    assert sum(m.total for m in minutes) == 0


def test_failures_by_code_groups_recent_failures_most_frequent_first(db: Database) -> None:
    with db.session() as session:
        a = _feed(session, "https://a.example/")
        b = _feed(session, "https://b.example/")
        _fetch(session, a, FetchState.FAILED, finished_ago=60, code="http_404", message="old")
        _fetch(session, b, FetchState.FAILED, finished_ago=5, code="http_404", message="newest")
        _fetch(session, a, FetchState.FAILED, finished_ago=10, code="timeout", message="slow")
        _fetch(session, a, FetchState.FAILED, finished_ago=3 * 86400, code="dns_error")
        _fetch(session, a, FetchState.SUCCEEDED)
        session.commit()
        groups = stats.failures_by_code(session, since=NOW - timedelta(days=1))
    assert [(g.code, g.count, g.feeds) for g in groups] == [("http_404", 2, 2), ("timeout", 1, 1)]
    assert groups[0].sample_message == "newest"


def test_state_counts_include_states_without_feeds(db: Database) -> None:
    with db.session() as session:
        _feed(session, "https://a.example/", state=FeedState.PAUSED)
        _feed(session, "https://b.example/", state=FeedState.PAUSED)
        a = _feed(session, "https://c.example/")
        _fetch(session, a, FetchState.QUEUED)
        session.commit()
        assert stats.feed_state_counts(session)[FeedState.PAUSED] == 2
        assert stats.feed_state_counts(session)[FeedState.GONE] == 0
        assert stats.pending_fetch_counts(session) == {FetchState.QUEUED: 1, FetchState.RUNNING: 0}

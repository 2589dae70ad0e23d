"""Badges, error advice and times as the pages word them (app/web/wording.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.storage.models import Feed, FeedState, Fetch, FetchState
from app.web import wording

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_pending_fetch_decides_the_badge_over_the_feed_state() -> None:
    feed = Feed(state=FeedState.ERROR)
    assert wording.badge_key(feed, Fetch(state=FetchState.RUNNING)) == "fetching"
    assert wording.badge_key(feed, Fetch(state=FetchState.QUEUED)) == "queued"
    assert wording.badge_key(feed, None) == "error"


def test_new_feed_without_a_pending_fetch_is_queued() -> None:
    assert wording.badge_key(Feed(state=FeedState.NEW), None) == "queued"


def test_badge_markup_escapes_nothing_it_should_not() -> None:
    assert str(wording.badge("ok")) == '<span class="badge badge-ok">OK</span>'


def test_advice_covers_server_errors_and_unknown_codes() -> None:
    assert "server is having trouble" in wording.advice("http_502")
    assert wording.advice("something_new").startswith("Try refreshing later")
    assert wording.advice(None) == ""


def test_relative_times_read_naturally() -> None:
    assert wording.relative(NOW - timedelta(minutes=5), NOW) == "5 minutes ago"
    assert wording.relative(NOW + timedelta(hours=2), NOW) == "in 2 hours"
    assert wording.relative(NOW - timedelta(days=1), NOW) == "1 day ago"
    assert wording.relative(NOW, NOW) == "just now"
    assert wording.relative(None, NOW) == "never"


def test_durations_pick_a_readable_unit() -> None:
    assert wording.duration(0.25) == "250 ms"
    assert wording.duration(4.24) == "4.2 s"
    assert wording.duration(600) == "10 min"
    assert wording.duration(None) == "—"

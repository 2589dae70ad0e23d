from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.schedule import error_backoff, refresh_interval, with_jitter

BOUNDS = {"default": 1800, "minimum": 300, "maximum": 86400}
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_a_feed_without_hints_gets_the_default_interval() -> None:
    assert refresh_interval(**BOUNDS) == 1800


def test_a_feed_posting_hourly_is_checked_every_half_hour() -> None:
    times = [NOW - timedelta(hours=h) for h in range(10)]
    assert refresh_interval(**BOUNDS, recent_item_times=times) == 1800


def test_a_feed_posting_weekly_is_checked_less_often_within_the_maximum() -> None:
    times = [NOW - timedelta(days=7 * w) for w in range(5)]
    assert refresh_interval(**BOUNDS, recent_item_times=times) == 86400


def test_a_busy_feed_is_not_checked_more_often_than_the_minimum() -> None:
    times = [NOW - timedelta(seconds=10 * i) for i in range(20)]
    assert refresh_interval(**BOUNDS, recent_item_times=times) == 300


def test_rss_ttl_and_cache_control_are_floors() -> None:
    assert refresh_interval(**BOUNDS, ttl_seconds=7200) == 7200
    assert refresh_interval(**BOUNDS, cache_max_age=3600) == 3600
    assert refresh_interval(**BOUNDS, ttl_seconds=10 * 86400) == 86400


@pytest.mark.parametrize(("errors", "expected"), [(1, 300), (2, 600), (3, 1200), (30, 86400)])
def test_errors_back_off_exponentially_within_bounds(errors: int, expected: int) -> None:
    assert error_backoff(errors, minimum=300, maximum=86400) == expected


def test_jitter_spreads_feeds_within_ten_percent() -> None:
    times = {with_jitter(1000, NOW) for _ in range(50)}
    assert len(times) > 1
    assert all(NOW + timedelta(seconds=900) <= t <= NOW + timedelta(seconds=1100) for t in times)

"""The feed state rules (app/feed_state.py), alone: no database, no clock but the one given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.feed_state import (
    AFTER_SUCCESS,
    REFRESHABLE,
    STOPPED,
    Change,
    FeedState,
    Policy,
    after_failure,
    after_success,
    error_backoff,
    paused,
    provisional_next,
    refresh_interval,
    resumed,
    with_jitter,
)

BOUNDS = {"default": 1800, "minimum": 300, "maximum": 86400}
POLICY = Policy(refresh_default=1800, refresh_min=300, refresh_max=86400, max_errors=3)
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _fail(state: FeedState, errors: int = 0, **kwargs: object) -> Change:
    options = {"now": NOW, "http_status": 500, "retry_after": None, **kwargs}
    return after_failure(POLICY, state, errors, **options)  # type: ignore[arg-type]


# -- intervals -------------------------------------------------------------------------


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


# -- success ---------------------------------------------------------------------------


def test_a_success_leaves_every_feed_active_except_a_paused_one() -> None:
    assert set(AFTER_SUCCESS) == set(FeedState)
    assert {old for old, new in AFTER_SUCCESS.items() if new != FeedState.ACTIVE} == {
        FeedState.PAUSED
    }
    assert AFTER_SUCCESS[FeedState.PAUSED] == FeedState.PAUSED


def test_a_success_that_learned_nothing_keeps_the_feeds_rhythm() -> None:
    schedule = after_success(POLICY, now=NOW, previous_interval=7200, learned=False)
    assert schedule.interval == 7200
    assert NOW + timedelta(seconds=6480) <= schedule.next_fetch_at <= NOW + timedelta(seconds=7920)


def test_a_success_with_new_items_starts_again_from_the_default_and_their_rate() -> None:
    times = [NOW - timedelta(hours=2 * h) for h in range(5)]
    learned = after_success(
        POLICY, now=NOW, previous_interval=7200, learned=True, recent_item_times=times
    )
    assert learned.interval == 3600
    assert after_success(POLICY, now=NOW, previous_interval=7200, learned=True).interval == 1800


def test_a_first_success_uses_the_default_and_the_publishers_hints() -> None:
    assert after_success(POLICY, now=NOW, previous_interval=None, learned=False).interval == 1800
    hinted = after_success(POLICY, now=NOW, previous_interval=None, learned=False, ttl_seconds=5000)
    assert hinted.interval == 5000


# -- failure ---------------------------------------------------------------------------


def test_a_first_failure_sets_error_and_backs_off_from_the_minimum() -> None:
    change = _fail(FeedState.ACTIVE)
    assert (change.state, change.error_count) == (FeedState.ERROR, 1)
    assert change.next_fetch_at == NOW + timedelta(seconds=300)


def test_a_servers_retry_after_is_a_floor_for_the_back_off() -> None:
    assert _fail(FeedState.ERROR, 1, retry_after=5000.5).next_fetch_at == NOW + timedelta(
        seconds=5000
    )


def test_the_failure_that_reaches_the_maximum_pauses_the_feed() -> None:
    change = _fail(FeedState.ERROR, POLICY.max_errors - 1)
    assert (change.state, change.error_count, change.next_fetch_at) == (
        FeedState.PAUSED,
        POLICY.max_errors,
        None,
    )


def test_a_410_marks_the_feed_gone_from_any_state() -> None:
    for state in FeedState:
        change = _fail(state, http_status=410)
        assert (change.state, change.next_fetch_at) == (FeedState.GONE, None)


def test_a_stopped_feed_stays_stopped_through_other_failures_and_counts_them() -> None:
    for state in STOPPED:
        change = _fail(state, 4)
        assert (change.state, change.error_count, change.next_fetch_at) == (state, 5, None)


# -- a person's actions and the scheduler ---------------------------------------------------


def test_pausing_stops_refreshes_and_keeps_the_error_count() -> None:
    assert paused() == Change(FeedState.PAUSED, None, None)


def test_resuming_refreshes_now_with_a_clean_error_count() -> None:
    change = resumed(NOW)
    assert (change.state, change.error_count, change.next_fetch_at) == (FeedState.ACTIVE, 0, NOW)
    assert change.state in REFRESHABLE


def test_only_active_and_failing_feeds_are_refreshed_on_schedule() -> None:
    assert REFRESHABLE == {FeedState.ACTIVE, FeedState.ERROR}
    assert not REFRESHABLE & STOPPED


def test_the_schedulers_provisional_next_time_is_the_feeds_interval_or_the_default() -> None:
    assert provisional_next(NOW, 600, POLICY) == NOW + timedelta(seconds=600)
    assert provisional_next(NOW, None, POLICY) == NOW + timedelta(seconds=1800)

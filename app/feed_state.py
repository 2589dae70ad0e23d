"""A feed's state and schedule: what they become after each event, as pure functions.

Every writer of a feed's state or next fetch time takes its rules from here: a
fetch's success or failure (app.jobs.fetch), a person's pause or resume
(app.services.feeds) and the scheduler's claim (app.workers.housekeeping).
Two rules must decide inside the database, against the row as it is at that
moment: a success keeps a pause made while its fetch ran, and the scheduler
claims due feeds in bulk. app.storage writes their SQL from the tables below
(:data:`AFTER_SUCCESS`, :data:`STOPPED`, :data:`REFRESHABLE`), and
tests/storage hold that SQL against these functions.

The refresh interval starts from the default, follows the feed's own hints
(RSS ``<ttl>``, Cache-Control ``max-age``) and its observed posting rate, is
kept within bounds, and gets jitter so feeds added together spread out.
Failures back off exponentially.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import Settings


class FeedState(enum.StrEnum):
    """Where a feed stands with respect to refreshes."""

    NEW = "new"  # submitted, never fetched successfully yet
    ACTIVE = "active"  # refreshed on its schedule
    ERROR = "error"  # last fetch failed; retried with back-off
    PAUSED = "paused"  # refreshes stopped (by a person or after repeated errors)
    GONE = "gone"  # the server answered 410; refreshes stopped


#: States the scheduler refreshes when their time comes.
REFRESHABLE = frozenset({FeedState.ACTIVE, FeedState.ERROR})
#: States with no refresh scheduled (``next_fetch_at`` is NULL).
STOPPED = frozenset({FeedState.PAUSED, FeedState.GONE})
#: The state a successful fetch leaves, from each state. A pause outlives a success
#: (a person may pause a feed while its fetch runs); a gone feed that answers is back.
AFTER_SUCCESS = {
    FeedState.NEW: FeedState.ACTIVE,
    FeedState.ACTIVE: FeedState.ACTIVE,
    FeedState.ERROR: FeedState.ACTIVE,
    FeedState.PAUSED: FeedState.PAUSED,
    FeedState.GONE: FeedState.ACTIVE,
}


@dataclass(frozen=True)
class Policy:
    """The settings the rules depend on."""

    refresh_default: int
    refresh_min: int
    refresh_max: int
    max_errors: int

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """The policy the app's settings give."""
        return cls(
            refresh_default=settings.refresh_default,
            refresh_min=settings.refresh_min,
            refresh_max=settings.refresh_max,
            max_errors=settings.feed_max_errors,
        )


@dataclass(frozen=True)
class Change:
    """What to write on a feed: its state, error count (None: unchanged), next fetch time."""

    state: FeedState
    error_count: int | None
    next_fetch_at: datetime | None


@dataclass(frozen=True)
class Schedule:
    """When to fetch a feed again after a success; applies unless the feed stays stopped."""

    interval: int
    next_fetch_at: datetime


def after_success(
    policy: Policy,
    *,
    now: datetime,
    previous_interval: int | None,
    learned: bool,
    ttl_seconds: int | None = None,
    cache_max_age: int | None = None,
    recent_item_times: Sequence[datetime] = (),
) -> Schedule:
    """The schedule after a successful fetch; its state is :data:`AFTER_SUCCESS`'s.

    ``learned``: the fetch stored new or changed items, so their times say something
    new about the posting rate; otherwise the feed keeps its rhythm.
    """
    interval = refresh_interval(
        default=policy.refresh_default if learned else previous_interval or policy.refresh_default,
        minimum=policy.refresh_min,
        maximum=policy.refresh_max,
        ttl_seconds=ttl_seconds,
        cache_max_age=cache_max_age,
        recent_item_times=recent_item_times,
    )
    return Schedule(interval, with_jitter(interval, now))


def after_failure(
    policy: Policy,
    state: FeedState,
    error_count: int,
    *,
    now: datetime,
    http_status: int | None,
    retry_after: float | None,
) -> Change:
    """State, error count and next fetch after a failed fetch (retries exhausted)."""
    errors = error_count + 1
    if http_status == 410:
        wanted = FeedState.GONE  # the publisher says it is gone for good
    elif errors >= policy.max_errors:
        wanted = FeedState.PAUSED  # stop hammering; a person can resume it
    else:
        wanted = FeedState.ERROR
    # A pause outlives later errors; only a 410 overrides it.
    new = state if state in STOPPED and wanted != FeedState.GONE else wanted
    if new in STOPPED:
        return Change(new, errors, None)
    delay = error_backoff(errors, minimum=policy.refresh_min, maximum=policy.refresh_max)
    if retry_after:
        delay = max(delay, int(retry_after))
    return Change(new, errors, now + timedelta(seconds=delay))


def paused() -> Change:
    """A person stops a feed's refreshes (the error count stays)."""
    return Change(FeedState.PAUSED, None, None)


def resumed(now: datetime) -> Change:
    """A person (or the admin, for every paused feed) refreshes a feed again, from now."""
    return Change(FeedState.ACTIVE, 0, now)


def provisional_next(now: datetime, refresh_interval: int | None, policy: Policy) -> datetime:
    """The next fetch time the scheduler sets when it claims a due feed (before its
    jitter); the fetch's outcome keeps it when the interval stays, else sets another."""
    return now + timedelta(seconds=refresh_interval or policy.refresh_default)


def refresh_interval(
    *,
    default: int,
    minimum: int,
    maximum: int,
    ttl_seconds: int | None = None,
    cache_max_age: int | None = None,
    recent_item_times: Sequence[datetime] = (),
) -> int:
    """Seconds until the next refresh of a feed that was fetched successfully."""
    interval = default
    if len(recent_item_times) >= 2:
        times = sorted(recent_item_times)
        span = (times[-1] - times[0]).total_seconds()
        mean_gap = span / (len(times) - 1)
        if mean_gap > 0:
            # Check about twice per posting period: quick enough to catch new
            # items, slow enough not to hammer a feed that posts weekly.
            interval = int(mean_gap / 2)
    # The publisher's hints are floors: fetching sooner only earns the same bytes.
    for hint in (ttl_seconds, cache_max_age):
        if hint:
            interval = max(interval, hint)
    return max(minimum, min(maximum, interval))


def error_backoff(error_count: int, *, minimum: int, maximum: int) -> int:
    """Seconds to wait after ``error_count`` consecutive failures (1 -> minimum)."""
    exponent = max(0, min(error_count - 1, 20))
    return min(maximum, minimum * 2**exponent)


def with_jitter(seconds: int, now: datetime, *, spread: float = 0.1) -> datetime:
    """``now + seconds`` moved by up to ±spread, so neighbours drift apart."""
    jitter = random.uniform(-spread, spread) * seconds
    return now + timedelta(seconds=seconds + jitter)

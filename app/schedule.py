"""When to fetch a feed next: pure functions of what we know about it.

The interval starts from the default, follows the feed's own hints (RSS
``<ttl>``, Cache-Control ``max-age``) and its observed posting rate, is kept
within bounds, and gets jitter so feeds added together spread out. Failures
back off exponentially.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta


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

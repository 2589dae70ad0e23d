"""Read-only aggregates over feeds and fetches, for the status dashboard.

Every function is one SQL query; times are bucketed by Postgres so the web
process never loads raw fetch rows to count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from app.storage.models import PENDING_STATES, Feed, FeedState, Fetch, FetchState


@dataclass(frozen=True)
class MinuteStats:
    """Fetches that finished in one minute, and how long they took end to end."""

    minute: datetime
    succeeded: int
    failed: int
    avg_latency: float  # seconds from created_at to finished_at
    max_latency: float

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True)
class FailureGroup:
    """Failed fetches sharing one error code."""

    code: str
    count: int
    feeds: int
    last_at: datetime
    sample_message: str | None


def fetches_by_minute(session: Session, *, now: datetime, minutes: int = 60) -> list[MinuteStats]:
    """One entry per minute of the last ``minutes`` (oldest first), empty minutes included."""
    start = (now.astimezone(UTC) - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    minute = func.date_trunc("minute", Fetch.finished_at).label("minute")
    latency = func.extract("epoch", Fetch.finished_at - Fetch.created_at)
    rows = session.execute(
        select(
            minute,
            func.count().filter(Fetch.state == FetchState.SUCCEEDED),
            func.count().filter(Fetch.state == FetchState.FAILED),
            func.coalesce(func.avg(latency), 0),
            func.coalesce(func.max(latency), 0),
        )
        .where(Fetch.finished_at >= start)
        .group_by(minute)
    ).all()
    found = {row[0].astimezone(UTC): row for row in rows}
    result = []
    for i in range(minutes):
        at = start + timedelta(minutes=i)
        row = found.get(at)
        if row is None:
            result.append(MinuteStats(at, 0, 0, 0.0, 0.0))
        else:
            result.append(MinuteStats(at, row[1], row[2], float(row[3]), float(row[4])))
    return result


def failures_by_code(session: Session, *, since: datetime, limit: int = 20) -> list[FailureGroup]:
    """Failed fetches since ``since`` grouped by error code, most frequent first."""
    code = func.coalesce(Fetch.error_code, "unknown")
    rows = session.execute(
        select(
            code,
            func.count(),
            func.count(distinct(Fetch.feed_id)),
            func.max(Fetch.finished_at),
            # The message of the most recent failure of the group.
            func.max(func.concat(Fetch.finished_at, "\x1f", Fetch.error_message)),
        )
        .where(Fetch.state == FetchState.FAILED, Fetch.finished_at >= since)
        .group_by(code)
        .order_by(func.count().desc(), code)
        .limit(limit)
    ).all()
    return [
        FailureGroup(row[0], row[1], row[2], row[3], (row[4] or "").split("\x1f", 1)[-1] or None)
        for row in rows
    ]


def feed_state_counts(session: Session) -> dict[FeedState, int]:
    """How many feeds are in each state (states with none are included as 0)."""
    counts = dict.fromkeys(FeedState, 0)
    for state, count in session.execute(select(Feed.state, func.count()).group_by(Feed.state)):
        counts[state] = count
    return counts


def pending_fetch_counts(session: Session) -> dict[FetchState, int]:
    """Queued and running fetches according to Postgres (the promise, not Redis)."""
    counts = {FetchState.QUEUED: 0, FetchState.RUNNING: 0}
    rows = session.execute(
        select(Fetch.state, func.count())
        .where(Fetch.state.in_(PENDING_STATES))
        .group_by(Fetch.state)
    )
    for state, count in rows:
        counts[state] = count
    return counts

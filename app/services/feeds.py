"""What a person (or the admin) does to feeds: pause, resume, delete, fetch again after failures.

Each commits its change. The updates bypass the session's copies of the feed,
so the session is expired after them: a feed read afterwards is read afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.queue.queues import Queues
from app.services.submissions import QueueFull, QueueUnavailable, request_refresh
from app.storage import feeds


def _committed(session: Session) -> None:
    session.commit()
    session.expire_all()


def pause_feed(session: Session, feed_id: int) -> bool:
    """Stop scheduled refreshes of the feed; False when there is no such feed."""
    done = feeds.pause_feed(session, feed_id)
    _committed(session)
    return done


def resume_feed(session: Session, feed_id: int) -> bool:
    """Refresh the feed on its schedule again, starting now, with a clean error count."""
    done = feeds.resume_feed(session, feed_id, datetime.now(UTC))
    _committed(session)
    return done


def resume_paused_feeds(session: Session) -> int:
    """Resume every paused feed; the scheduler picks them up as due now. Returns how many."""
    count = feeds.resume_paused_feeds(session, datetime.now(UTC))
    _committed(session)
    return count


def delete_feed(session: Session, feed_id: int) -> bool:
    """Remove the feed with its items and fetch history."""
    done = feeds.delete_feed(session, feed_id)
    _committed(session)
    return done


@dataclass(frozen=True)
class Requeued:
    """How many feeds got a new fetch; ``stopped`` when Redis refused before the end."""

    count: int
    stopped: bool


def requeue_failing(session: Session, queues: Queues, code: str, *, since: datetime) -> Requeued:
    """Fetch again every feed whose failures since ``since`` have the error ``code``."""
    queued = 0
    for feed in feeds.feeds_failing_with(session, code, since=since):
        try:
            if request_refresh(session, queues, feed).created:
                queued += 1
        except (QueueUnavailable, QueueFull):
            return Requeued(queued, stopped=True)
    return Requeued(queued, stopped=False)

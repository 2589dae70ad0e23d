"""State changes a person asks for on a feed: pause, resume, delete.

Each is one UPDATE or DELETE so it composes with the scheduler's
``FOR UPDATE SKIP LOCKED`` claims; the caller commits.
"""

from __future__ import annotations

from sqlalchemy import delete, func, update
from sqlalchemy.orm import Session

from app.storage.models import Feed, FeedState


def pause_feed(session: Session, feed_id: int) -> bool:
    """Stop refreshing the feed; False when there is no such feed."""
    result = session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(state=FeedState.PAUSED, next_fetch_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def resume_feed(session: Session, feed_id: int) -> bool:
    """Refresh the feed again, starting now, with a clean error count."""
    result = session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(state=FeedState.ACTIVE, error_count=0, next_fetch_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def resume_paused_feeds(session: Session) -> int:
    """Resume every paused feed (an admin action); returns how many."""
    result = session.execute(
        update(Feed)
        .where(Feed.state == FeedState.PAUSED)
        .values(state=FeedState.ACTIVE, error_count=0, next_fetch_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]


def delete_feed(session: Session, feed_id: int) -> bool:
    """Remove the feed; its items and fetches go with it (ON DELETE CASCADE)."""
    result = session.execute(
        delete(Feed).where(Feed.id == feed_id).execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]

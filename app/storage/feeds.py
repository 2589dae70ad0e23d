"""Recording a fetch's outcome on its feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.storage.models import Feed, FeedState, Item


def record_success(
    session: Session,
    feed_id: int,
    *,
    now: datetime,
    next_fetch_at: datetime,
    interval: int,
    current_url: str | None = None,
    title: str | None = None,
    site_url: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    content_hash: str | None = None,
    items_changed: bool = True,
) -> None:
    """Store a successful fetch: validators, metadata, schedule, and a clean error slate.

    One UPDATE, which also takes the row lock: a pause made while the fetch ran
    is read and kept inside the statement, not from an older copy of the row.
    """
    paused = Feed.state == FeedState.PAUSED
    values: dict[str, object] = {
        "etag": etag,
        "last_modified": last_modified,
        "state": case((paused, FeedState.PAUSED), else_=FeedState.ACTIVE),
        "error_count": 0,
        "last_error_code": None,
        "last_error": None,
        "last_fetched_at": now,
        "last_success_at": now,
        "next_fetch_at": case((paused, None), else_=next_fetch_at),
        "refresh_interval": interval,
    }
    if current_url:
        values["current_url"] = current_url
    if title:
        values["title"] = title
    if site_url:
        values["site_url"] = site_url
    if content_hash:
        values["content_hash"] = content_hash
    if items_changed:
        values["item_count"] = (
            select(func.count()).select_from(Item).where(Item.feed_id == feed_id).scalar_subquery()
        )
    session.execute(
        update(Feed).where(Feed.id == feed_id).values(values),
        execution_options={"synchronize_session": False},
    )


def record_failure(
    session: Session,
    feed: Feed,
    *,
    now: datetime,
    code: str,
    message: str,
    next_fetch_at: datetime | None,
    state: FeedState = FeedState.ERROR,
) -> None:
    """Store a failed fetch on the feed; ``next_fetch_at=None`` stops refreshes."""
    feed.error_count += 1
    feed.last_error_code = code
    feed.last_error = message
    feed.last_fetched_at = now
    feed.next_fetch_at = next_fetch_at
    # A pause outlives later errors; only a 410 overrides it.
    if feed.state not in (FeedState.PAUSED, FeedState.GONE) or state == FeedState.GONE:
        feed.state = state
    if feed.state in (FeedState.PAUSED, FeedState.GONE):
        feed.next_fetch_at = None


def recent_item_times(session: Session, feed_id: int, limit: int = 20) -> list[datetime]:
    """Publication times of the newest items, for the posting-rate estimate."""
    return list(
        session.scalars(
            select(Item.published_at)
            .where(Item.feed_id == feed_id, Item.published_at.is_not(None))
            .order_by(Item.sort_at.desc())
            .limit(limit)
        )
    )

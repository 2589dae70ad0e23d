"""Recording a fetch's outcome on its feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.items import count_items
from app.storage.models import Feed, FeedState, Item


def record_success(
    session: Session,
    feed: Feed,
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
    """Store a successful fetch: validators, metadata, schedule, and a clean error slate."""
    if current_url:
        feed.current_url = current_url
    if title:
        feed.title = title
    if site_url:
        feed.site_url = site_url
    feed.etag = etag
    feed.last_modified = last_modified
    if content_hash:
        feed.content_hash = content_hash
    # A pause made while this fetch ran outlives its success.
    paused = feed.state == FeedState.PAUSED
    feed.state = FeedState.PAUSED if paused else FeedState.ACTIVE
    feed.error_count = 0
    feed.last_error_code = None
    feed.last_error = None
    feed.last_fetched_at = now
    feed.last_success_at = now
    feed.next_fetch_at = None if paused else next_fetch_at
    feed.refresh_interval = interval
    if items_changed:
        feed.item_count = count_items(session, feed.id)


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

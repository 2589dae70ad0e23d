"""Recording a fetch's outcome on its feed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from psycopg2.extras import execute_batch
from sqlalchemy.orm import Session

from app.storage.db import driver_cursor
from app.storage.models import Feed, FeedState

# A success finishes the fetch and updates its feed in one statement: nothing is
# recorded twice if another worker finished the fetch meanwhile, and the feed row
# is read and written inside the statement (a pause made while the fetch ran is kept).
_RECORD_SUCCESS = """
WITH finished AS (
    UPDATE fetches
    SET state = 'succeeded', finished_at = now(), http_status = %(http_status)s,
        items_new = %(items_new)s, items_updated = %(items_updated)s,
        not_modified = %(not_modified)s, warning = %(warning)s,
        discovered_url = %(discovered_url)s
    WHERE id = CAST(%(fetch_id)s AS uuid) AND state IN ('queued', 'running')
    RETURNING feed_id
)
UPDATE feeds
SET current_url = coalesce(%(current_url)s, current_url),
    title = coalesce(%(title)s, title),
    site_url = coalesce(%(site_url)s, site_url),
    etag = %(etag)s,
    last_modified = %(last_modified)s,
    content_hash = coalesce(%(content_hash)s, content_hash),
    state = CASE WHEN state = 'paused' THEN 'paused' ELSE 'active' END,
    error_count = 0,
    last_error_code = NULL,
    last_error = NULL,
    last_fetched_at = %(now)s,
    last_success_at = %(now)s,
    next_fetch_at = CASE WHEN state = 'paused' THEN NULL ELSE %(next_fetch_at)s END,
    refresh_interval = %(interval)s,
    item_count = CASE WHEN %(items_changed)s
                      THEN (SELECT count(*) FROM items WHERE items.feed_id = feeds.id)
                      ELSE item_count END
FROM finished
WHERE feeds.id = finished.feed_id
RETURNING feeds.id
"""


@dataclass(frozen=True)
class Success:
    """What a successful fetch learned about its feed, and what it did."""

    now: datetime
    next_fetch_at: datetime
    interval: int
    http_status: int | None = None
    not_modified: bool = False
    items_new: int = 0
    items_updated: int = 0
    current_url: str | None = None
    title: str | None = None
    site_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    warning: str | None = None
    discovered_url: str | None = None


def _success_params(fetch_id: uuid.UUID, success: Success) -> dict[str, object]:
    params = asdict(success)
    params.update(
        fetch_id=str(fetch_id),
        # Empty values never replace known ones.
        current_url=success.current_url or None,
        title=success.title or None,
        site_url=success.site_url or None,
        content_hash=success.content_hash or None,
        items_changed=bool(success.items_new or success.items_updated),
    )
    return params


def record_success(session: Session, fetch_id: uuid.UUID, success: Success) -> bool:
    """Finish a pending fetch as succeeded and store on its feed the validators,
    metadata and schedule, with a clean error slate. False if the fetch had ended."""
    with driver_cursor(session) as cursor:
        cursor.execute(_RECORD_SUCCESS, _success_params(fetch_id, success))
        return cursor.fetchone() is not None


def record_successes(session: Session, outcomes: Sequence[tuple[uuid.UUID, Success]]) -> None:
    """:func:`record_success` for many fetches, in one round trip."""
    if outcomes:
        with driver_cursor(session) as cursor:
            params = [_success_params(fetch_id, success) for fetch_id, success in outcomes]
            execute_batch(cursor, _RECORD_SUCCESS, params, page_size=len(params))


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


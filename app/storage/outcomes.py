"""The end of a fetch, written to its fetch row and to its feed together.

A success finishes the fetch and updates its feed in one statement: nothing is
recorded twice if another worker finished the fetch meanwhile, and the feed row
is read and written inside the statement, so a pause made while the fetch ran
is kept. Its state rule is generated from app.feed_state's tables. A scheduled
refresh whose interval stays the same keeps the next fetch time its claim set
(app.storage.feeds.claim_due_feeds): then its feed_schedule row stays valid and the
schedule's trigger adds none. No column an outcome writes is indexed (the due order is
feed_schedule's, migration 0010), so Postgres writes the update in place (a HOT update,
with the room the table's fill factor leaves), without a new entry in each of the feed's
indexes. A failure
locks the feed row, and the caller decides the change with
app.feed_state.after_failure before writing it here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from psycopg2.extras import execute_batch
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.feed_state import AFTER_SUCCESS, STOPPED, Change, FeedState
from app.storage.db import driver_cursor
from app.storage.models import Feed, states_predicate


def _state_after_success() -> str:
    whens = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in AFTER_SUCCESS.items())
    return f"CASE state {whens} END"


def _stays_stopped() -> str:
    return states_predicate(old for old, new in AFTER_SUCCESS.items() if new in STOPPED)


_RECORD_SUCCESS = f"""
WITH finished AS (
    UPDATE fetches
    SET state = 'succeeded', finished_at = now(), http_status = %(http_status)s,
        items_new = %(items_new)s, items_updated = %(items_updated)s,
        not_modified = %(not_modified)s, warning = %(warning)s,
        discovered_url = %(discovered_url)s
    WHERE id = CAST(%(fetch_id)s AS uuid) AND state IN ('queued', 'running')
    RETURNING feed_id, trigger
)
UPDATE feeds
SET current_url = coalesce(%(current_url)s, current_url),
    title = coalesce(%(title)s, title),
    site_url = coalesce(%(site_url)s, site_url),
    etag = %(etag)s,
    last_modified = %(last_modified)s,
    content_hash = coalesce(%(content_hash)s, content_hash),
    state = {_state_after_success()},
    error_count = 0,
    last_error_code = NULL,
    last_error = NULL,
    last_fetched_at = %(now)s,
    last_success_at = %(now)s,
    next_fetch_at = CASE WHEN {_stays_stopped()} THEN NULL
                         WHEN finished.trigger = 'refresh'
                              AND feeds.refresh_interval = %(interval)s
                              AND feeds.next_fetch_at > %(now)s THEN feeds.next_fetch_at
                         ELSE %(next_fetch_at)s END,
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


def lock_feed_state(session: Session, feed_id: int) -> tuple[FeedState, int]:
    """Lock the feed row until the transaction ends and read its state and error count.

    Serialises writers of one feed (a refresh racing a manual fetch).
    """
    row = session.execute(
        select(Feed.state, Feed.error_count).where(Feed.id == feed_id).with_for_update()
    ).one()
    return row.state, row.error_count


def record_failure(
    session: Session, feed_id: int, change: Change, *, now: datetime, code: str, message: str
) -> None:
    """Store a failed fetch on its feed, as app.feed_state.after_failure decided."""
    session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(
            state=change.state,
            error_count=change.error_count,
            next_fetch_at=change.next_fetch_at,
            last_error_code=code,
            last_error=message,
            last_fetched_at=now,
        )
        .execution_options(synchronize_session=False)
    )

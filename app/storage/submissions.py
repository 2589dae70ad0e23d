"""A submission's rows in one statement: the feed, its new subscriber and its fetch.

POST /feeds is the web's busiest write. Done as separate ORM statements (upsert the
feed, subscribe, insert the fetch) it cost three round trips and more CPU in building
entities than in anything else (bench/findings.md). Here one statement does the
common case and returns only what the answer needs; the rare cases (the feed was
fetched moments ago, a fetch is already pending, the new subscriber's feed already
has items) are finished by the caller with the ordinary functions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.storage.models import PENDING_PREDICATE, FeedState, Fetch, FetchState, FetchTrigger

# Each part sees the same snapshot; every part but the first reads the feed from the
# first's RETURNING, which is the row as inserted or as locked by the no-op update.
_SUBMIT = text(
    f"""
    WITH feed AS (
        INSERT INTO feeds (url, current_url, state) VALUES (:url, :url, '{FeedState.NEW}')
        -- DO NOTHING would return no row on conflict; a no-op update does.
        ON CONFLICT (url) DO UPDATE SET url = excluded.url
        RETURNING id, (xmax = 0) AS inserted,
            coalesce(last_success_at > now() - CAST(:fresh_for AS interval), false) AS fresh
    ), subscription AS (
        INSERT INTO subscriptions (user_id, feed_id, title, folder_id, read_upto_id)
        SELECT :user_id, feed.id, :title, :folder_id,
            (SELECT coalesce(max(items.id), 0) FROM items WHERE items.feed_id = feed.id)
        FROM feed
        WHERE CAST(:user_id AS bigint) IS NOT NULL
        ON CONFLICT ON CONSTRAINT uq_subscriptions_user_feed DO NOTHING
        RETURNING read_upto_id
    ), new_fetch AS (
        INSERT INTO fetches (id, feed_id, trigger, state, attempts, crashes, enqueued_at)
        -- The job is enqueued right after the commit; if that fails the row is
        -- deleted again, so "enqueued" can be stamped now.
        SELECT :fetch_id, feed.id, :trigger, '{FetchState.QUEUED}', 0, 0, now()
        FROM feed
        WHERE NOT feed.fresh
        ON CONFLICT (feed_id) WHERE {PENDING_PREDICATE} DO NOTHING
        RETURNING created_at
    )
    SELECT feed.id, feed.inserted, feed.fresh,
        (SELECT read_upto_id FROM subscription) AS read_upto_id,
        (SELECT created_at FROM new_fetch) AS fetch_created_at
    FROM feed
    """
)


@dataclass(frozen=True)
class StoredSubmission:
    """What :func:`store_submission` wrote.

    ``feed_inserted``: the feed is new. ``fresh``: it succeeded within ``fresh_for``,
    so no fetch was created. ``read_upto_id``: the new subscription's watermark (None:
    no subscription was added). ``fetch``: the queued fetch created (None: none was,
    because the feed is fresh or already has a pending fetch).
    """

    feed_id: int
    feed_inserted: bool
    fresh: bool
    read_upto_id: int | None
    fetch: Fetch | None


def store_submission(
    session: Session,
    url: str,
    *,
    user_id: int | None,
    fresh_for: timedelta | None,
    title: str | None = None,
    folder_id: int | None = None,
    trigger: FetchTrigger = FetchTrigger.SUBMITTED,
) -> StoredSubmission:
    """Upsert the feed at ``url``, subscribe ``user_id`` to it (when given and not
    already), and create its queued fetch unless it succeeded within ``fresh_for`` or
    has a pending fetch. Does not commit.
    """
    fetch_id = uuid.uuid4()
    # On the session's connection, past the ORM's statement handling: nothing here is
    # an entity, and this is the hottest statement of the web.
    row = session.connection().execute(
        _SUBMIT,
        {
            "url": url,
            "user_id": user_id,
            "title": title,
            "folder_id": folder_id,
            "fresh_for": fresh_for,
            "fetch_id": fetch_id,
            "trigger": trigger.value,
        },
    ).one()
    feed_id, inserted, fresh, read_upto_id, created_at = row
    fetch = None
    if created_at is not None:
        # The row as inserted, without reading it back: what the 202 reports.
        fetch = Fetch(
            id=fetch_id,
            feed_id=feed_id,
            trigger=trigger,
            state=FetchState.QUEUED,
            attempts=0,
            crashes=0,
            created_at=created_at,
            enqueued_at=created_at,
        )
    return StoredSubmission(feed_id, bool(inserted), bool(fresh), read_upto_id, fetch)

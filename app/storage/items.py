"""The items table: writing a feed's items (one statement per fetch, never one per item)
and reading them a page at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.storage.db import driver_cursor
from app.storage.models import Item
from app.storage.pagination import BadCursor, Page, decode_cursor, page_of


class ItemData(Protocol):
    """The fields storage needs from a parsed item (the pipeline's ParsedItem fits)."""

    key: str
    guid: str | None
    url: str | None
    title: str | None
    author: str | None
    summary_html: str | None
    content_html: str | None
    published_at: datetime | None
    updated_at: datetime | None
    content_hash: str
    # Optionally ``enclosures``: a sequence of objects with url, type and length
    # (app.pipeline.Enclosure); an item without the attribute has none.


@dataclass(frozen=True)
class StoredItems:
    """What one fetch's items changed, and what they say about the posting rate."""

    new: int
    updated: int
    #: Publication times of the feed's newest items (up to RECENT_ITEMS) after the
    #: write; empty when nothing was new or changed, as nothing new was learned.
    recent_published: list[datetime]


#: How many of a feed's newest items its posting rate is estimated from.
RECENT_ITEMS = 20

# One statement per fetch does the whole job, in one round trip and with no
# per-row work in Python: the items travel as one array per column (psycopg2
# adapts lists in C), the ones whose content hash is already stored are dropped
# in the database, the rest are upserted, and the newest publication times are
# read back for the posting rate. The items table as it was before the insert
# is all the last part can see, so the versions just written are taken from the
# insert's RETURNING instead, and their stale stored copies are left out.
_STORE_SQL = """
WITH incoming AS (
    SELECT * FROM unnest(
        %(key)s::text[], %(guid)s::text[], %(url)s::text[], %(title)s::text[],
        %(author)s::text[], %(summary_html)s::text[], %(content_html)s::text[],
        %(content_hash)s::text[], %(published_at)s::timestamptz[],
        %(updated_at)s::timestamptz[], %(sort_at)s::timestamptz[], %(enclosures)s::jsonb[]
    ) AS t(key, guid, url, title, author, summary_html, content_html, content_hash,
           published_at, updated_at, sort_at, enclosures)
), changed AS (
    SELECT incoming.* FROM incoming
    LEFT JOIN items AS stored ON stored.feed_id = %(feed_id)s AND stored.key = incoming.key
    WHERE stored.content_hash IS DISTINCT FROM incoming.content_hash
), written AS (
    INSERT INTO items (feed_id, key, guid, url, title, author, summary_html, content_html,
                       content_hash, published_at, updated_at, sort_at, enclosures)
    SELECT %(feed_id)s, key, guid, url, title, author, summary_html, content_html,
           content_hash, published_at, updated_at, sort_at, enclosures
    FROM changed
    ON CONFLICT ON CONSTRAINT uq_items_feed_id_key DO UPDATE SET
        guid = excluded.guid,
        url = excluded.url,
        title = excluded.title,
        author = excluded.author,
        summary_html = excluded.summary_html,
        content_html = excluded.content_html,
        content_hash = excluded.content_hash,
        published_at = excluded.published_at,
        updated_at = excluded.updated_at,
        enclosures = excluded.enclosures,
        changed_at = now(),
        sort_at = least(coalesce(excluded.published_at, excluded.updated_at,
                                 items.first_seen_at), now())
    -- A concurrent writer may have stored the same version meanwhile.
    WHERE items.content_hash <> excluded.content_hash
    RETURNING key, published_at, sort_at, (xmax = 0) AS inserted
), recent AS (
    SELECT published_at, sort_at FROM written WHERE published_at IS NOT NULL
    UNION ALL (
        SELECT published_at, sort_at FROM items
        WHERE feed_id = %(feed_id)s AND published_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM written WHERE written.key = items.key)
          AND EXISTS (SELECT 1 FROM written)
        ORDER BY sort_at DESC
        LIMIT %(recent)s
    )
)
SELECT
    (SELECT count(*) FROM written WHERE inserted),
    (SELECT count(*) FROM written WHERE NOT inserted),
    (SELECT array_agg(published_at) FROM (
        SELECT published_at FROM recent ORDER BY sort_at DESC LIMIT %(recent)s
    ) AS newest)
"""


def store_items(session: Session, feed_id: int, items: Sequence[ItemData]) -> StoredItems:
    """Insert new items and update changed ones; unchanged ones are left as they are.

    A repeated or retried fetch writes nothing and counts nothing.
    """
    unique = _unique_by_key(items)
    if not unique:
        return StoredItems(0, 0, [])
    now = datetime.now(UTC)
    params: dict[str, object] = {
        "feed_id": feed_id,
        "recent": RECENT_ITEMS,
        "key": [it.key for it in unique],
        "guid": [it.guid for it in unique],
        "url": [it.url for it in unique],
        "title": [it.title for it in unique],
        "author": [it.author for it in unique],
        "summary_html": [it.summary_html for it in unique],
        "content_html": [it.content_html for it in unique],
        "content_hash": [it.content_hash for it in unique],
        "published_at": _timestamps(it.published_at for it in unique),
        "updated_at": _timestamps(it.updated_at for it in unique),
        # Items dated in the future would pin themselves to the top of the list.
        "sort_at": _timestamps(min(it.published_at or it.updated_at or now, now) for it in unique),
        "enclosures": [_enclosures_json(getattr(it, "enclosures", ())) for it in unique],
    }
    with driver_cursor(session) as cursor:
        cursor.execute(_STORE_SQL, params)
        new, updated, recent = cursor.fetchone()
    return StoredItems(new=new, updated=updated, recent_published=recent or [])


def _timestamps(values: Iterable[datetime | None]) -> list[str | None]:
    # As ISO strings, which the statement casts: psycopg2 adapts datetimes in Python,
    # at twice the cost.
    return [value.isoformat() if value else None for value in values]


def _enclosures_json(enclosures: Sequence[Any]) -> str | None:
    # JSON text, which the statement casts; NULL for the many items without any.
    if not enclosures:
        return None
    return json.dumps(
        [{"url": e.url, "type": e.type, "length": e.length} for e in enclosures],
        ensure_ascii=False,
    )


def _unique_by_key(items: Sequence[ItemData]) -> list[ItemData]:
    # Postgres refuses an upsert that touches the same row twice.
    seen: dict[str, ItemData] = {}
    for it in items:
        seen.setdefault(it.key, it)
    return list(seen.values())


def items_page(
    session: Session, feed_id: int, *, limit: int, cursor: str | None = None
) -> Page[Item]:
    """A feed's items, newest first; stable under inserts thanks to the (sort_at, id) key."""
    stmt = (
        select(Item)
        .where(Item.feed_id == feed_id)
        .order_by(Item.sort_at.desc(), Item.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        sort_at, last_id = decode_cursor(cursor, 2)
        try:
            key = (datetime.fromisoformat(sort_at), int(last_id))
        except ValueError:
            raise BadCursor("The cursor is not valid.") from None
        stmt = stmt.where(tuple_(Item.sort_at, Item.id) < key)
    return page_of(list(session.scalars(stmt)), limit, lambda item: (item.sort_at, item.id))

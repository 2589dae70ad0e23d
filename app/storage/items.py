"""Writing a feed's items: one batched upsert per fetch, never one statement per item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from psycopg2.extras import execute_values
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.db import driver_cursor
from app.storage.models import Item


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


@dataclass(frozen=True)
class UpsertCounts:
    new: int
    updated: int


# One multi-row statement per fetch, sent with psycopg2's execute_values: the rows
# go to the driver as plain tuples, with none of the per-row work of an ORM or
# Core executemany (a 50-item feed costs a fraction of a millisecond here).
_UPSERT_SQL = """
INSERT INTO items (feed_id, key, guid, url, title, author, summary_html, content_html,
                   content_hash, published_at, updated_at, sort_at)
VALUES %s
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
    changed_at = now(),
    sort_at = least(coalesce(excluded.published_at, excluded.updated_at, items.first_seen_at),
                    now())
-- A concurrent writer may have stored the same version meanwhile.
WHERE items.content_hash <> excluded.content_hash
RETURNING (xmax = 0)
"""


def upsert_items(session: Session, feed_id: int, items: Sequence[ItemData]) -> UpsertCounts:
    """Insert new items and update changed ones; unchanged ones are not even sent.

    A repeated or retried fetch writes nothing and counts nothing.
    """
    unique = _unique_by_key(items)
    if not unique:
        return UpsertCounts(0, 0)
    known: dict[str, str] = {
        key: content_hash
        for key, content_hash in session.execute(
            select(Item.key, Item.content_hash).where(
                Item.feed_id == feed_id, Item.key.in_([it.key for it in unique])
            )
        )
    }
    changed = [it for it in unique if known.get(it.key) != it.content_hash]
    if not changed:
        return UpsertCounts(0, 0)
    now = datetime.now(UTC)
    rows = [
        (
            feed_id,
            it.key,
            it.guid,
            it.url,
            it.title,
            it.author,
            it.summary_html,
            it.content_html,
            it.content_hash,
            it.published_at,
            it.updated_at,
            # Items dated in the future would pin themselves to the top of the list.
            min(it.published_at or it.updated_at or now, now),
        )
        for it in changed
    ]
    with driver_cursor(session) as cursor:
        results = execute_values(cursor, _UPSERT_SQL, rows, page_size=len(rows), fetch=True)
    new = sum(1 for (inserted,) in results if inserted)
    return UpsertCounts(new=new, updated=len(results) - new)


def _unique_by_key(items: Sequence[ItemData]) -> list[ItemData]:
    # Postgres refuses an upsert that touches the same row twice.
    seen: dict[str, ItemData] = {}
    for it in items:
        seen.setdefault(it.key, it)
    return list(seen.values())

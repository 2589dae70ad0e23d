"""Writing a feed's items: one batched upsert per fetch, never one statement per item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

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


def _build_upsert() -> Any:
    # Core, not the ORM's bulk insert: rows go straight to the driver.
    table = Item.__table__
    stmt = insert(table)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        constraint="uq_items_feed_id_key",
        set_={
            "guid": excluded.guid,
            "url": excluded.url,
            "title": excluded.title,
            "author": excluded.author,
            "summary_html": excluded.summary_html,
            "content_html": excluded.content_html,
            "content_hash": excluded.content_hash,
            "published_at": excluded.published_at,
            "updated_at": excluded.updated_at,
            "changed_at": func.now(),
            "sort_at": func.least(
                func.coalesce(excluded.published_at, excluded.updated_at, table.c.first_seen_at),
                func.now(),
            ),
        },
        # A concurrent writer may have stored the same version meanwhile.
        where=table.c.content_hash != excluded.content_hash,
    ).returning(literal_column("(xmax = 0)").label("inserted"))


# One statement object for every call: SQLAlchemy compiles it once, and runs it
# for many rows at a time ("insertmanyvalues"), instead of compiling a fresh
# VALUES list per fetch.
_UPSERT = _build_upsert()


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
        {
            "feed_id": feed_id,
            "key": it.key,
            "guid": it.guid,
            "url": it.url,
            "title": it.title,
            "author": it.author,
            "summary_html": it.summary_html,
            "content_html": it.content_html,
            "content_hash": it.content_hash,
            "published_at": it.published_at,
            "updated_at": it.updated_at,
            # Items dated in the future would pin themselves to the top of the list.
            "sort_at": min(it.published_at or it.updated_at or now, now),
        }
        for it in changed
    ]
    results = session.connection().execute(_UPSERT, rows).scalars().all()
    new = sum(1 for inserted in results if inserted)
    return UpsertCounts(new=new, updated=len(results) - new)


def _unique_by_key(items: Sequence[ItemData]) -> list[ItemData]:
    # Postgres refuses an upsert that touches the same row twice.
    seen: dict[str, ItemData] = {}
    for it in items:
        seen.setdefault(it.key, it)
    return list(seen.values())


def count_items(session: Session, feed_id: int) -> int:
    """Number of stored items of a feed."""
    return (
        session.scalar(select(func.count()).select_from(Item).where(Item.feed_id == feed_id)) or 0
    )

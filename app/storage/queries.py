"""Read queries for pages and the API, with keyset (cursor) pagination."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.storage.models import Feed, Item


class BadCursor(ValueError):
    """The cursor was not one this app handed out."""


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None


def encode_cursor(*parts: object) -> str:
    raw = "|".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, count: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|")
    except (ValueError, binascii.Error, UnicodeError):
        raise BadCursor("The cursor is not valid.") from None
    if len(parts) != count:
        raise BadCursor("The cursor is not valid.")
    return parts


def feeds_page(session: Session, *, limit: int, cursor: str | None = None) -> Page[Feed]:
    """Feeds, newest first."""
    stmt = select(Feed).order_by(Feed.id.desc()).limit(limit + 1)
    if cursor:
        (last_id,) = _decode(cursor, 1)
        try:
            stmt = stmt.where(Feed.id < int(last_id))
        except ValueError:
            raise BadCursor("The cursor is not valid.") from None
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more else None)


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
        sort_at, last_id = _decode(cursor, 2)
        try:
            key = (datetime.fromisoformat(sort_at), int(last_id))
        except ValueError:
            raise BadCursor("The cursor is not valid.") from None
        stmt = stmt.where(tuple_(Item.sort_at, Item.id) < key)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].sort_at, rows[-1].id) if more else None)

"""Keyset (cursor) pagination shared by the list queries of every table.

A cursor is the sort key of the last row of a page, base64-encoded; it stays
valid while rows are inserted before it, unlike an offset.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar


class BadCursor(ValueError):
    """The cursor was not one this app handed out."""


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None


def encode_cursor(*parts: object) -> str:
    """A cursor for the sort key ``parts`` (datetimes as ISO text)."""
    raw = "|".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """The ``count`` parts of a cursor, as text; BadCursor when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|")
    except (ValueError, binascii.Error, UnicodeError):
        raise BadCursor("The cursor is not valid.") from None
    if len(parts) != count:
        raise BadCursor("The cursor is not valid.")
    return parts


def page_of(rows: list[T], limit: int, sort_key: Callable[[T], tuple[object, ...]]) -> Page[T]:
    """The page of ``rows``, which were read with ``LIMIT limit + 1``: a row beyond
    ``limit`` means there is a next page, whose cursor is the last row's ``sort_key``."""
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(*sort_key(rows[-1])) if more else None)

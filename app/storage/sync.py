"""Queries of a person's items by id, for reader apps that keep a local copy (Fever).

Item ids are stable integers that grow as items arrive, so a client pages
through everything by id (``since_id``, ``max_id``) and keeps read and starred
state in sync with lists of ids. Every query starts from the person's
subscriptions, as app.storage.reading's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.storage.models import MAX_ID
from app.storage.reading import FROM_SQL, ITEM_COLUMNS, READ_SQL, RiverItem


def items_by_id(
    session: Session,
    user_id: int,
    *,
    after_id: int | None = None,
    before_id: int | None = None,
    ids: Sequence[int] | None = None,
    limit: int = 50,
) -> list[RiverItem]:
    """The person's items by id: after ``after_id`` (ascending), before ``before_id``
    (descending), or those of ``ids`` (ascending); with none of them, the oldest first."""
    params: dict[str, object] = {"user_id": user_id, "limit": limit}
    where, order = "s.user_id = :user_id", "i.id ASC"
    if ids is not None:
        params["ids"] = [i for i in ids if 0 < i <= MAX_ID]
        where += " AND i.id = ANY(:ids)"
    elif before_id is not None:
        params["before_id"] = before_id
        where += " AND i.id < :before_id"
        order = "i.id DESC"
    elif after_id is not None:
        params["after_id"] = after_id
        where += " AND i.id > :after_id"
    sql = f"SELECT {ITEM_COLUMNS} {FROM_SQL} WHERE {where} ORDER BY {order} LIMIT :limit"
    return [RiverItem(**row._mapping) for row in session.execute(text(sql), params)]


def count_items(session: Session, user_id: int) -> int:
    """How many items the person's feeds hold."""
    return (
        session.scalar(
            text(
                "SELECT count(*) FROM subscriptions s JOIN items i ON i.feed_id = s.feed_id "
                "WHERE s.user_id = :user_id"
            ),
            {"user_id": user_id},
        )
        or 0
    )


def unread_ids(session: Session, user_id: int) -> list[int]:
    """Ids of the person's unread items, ascending."""
    sql = (
        "SELECT i.id FROM subscriptions s JOIN items i ON i.feed_id = s.feed_id "
        "LEFT JOIN item_states st ON st.user_id = s.user_id AND st.item_id = i.id "
        f"WHERE s.user_id = :user_id AND NOT {READ_SQL} ORDER BY i.id"
    )
    return list(session.scalars(text(sql), {"user_id": user_id}))


def starred_ids(session: Session, user_id: int) -> list[int]:
    """Ids of the person's starred items (of feeds they follow), ascending."""
    sql = (
        "SELECT st.item_id FROM item_states st "
        "JOIN subscriptions s ON s.user_id = st.user_id AND s.feed_id = st.feed_id "
        "WHERE st.user_id = :user_id AND st.starred ORDER BY st.item_id"
    )
    return list(session.scalars(text(sql), {"user_id": user_id}))


def last_refreshed(session: Session, user_id: int) -> datetime | None:
    """When the most recently fetched of the person's feeds was fetched, or None."""
    return session.scalar(
        text(
            "SELECT max(f.last_fetched_at) FROM subscriptions s JOIN feeds f ON f.id = s.feed_id "
            "WHERE s.user_id = :user_id"
        ),
        {"user_id": user_id},
    )

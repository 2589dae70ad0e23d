"""A person's reading: the river of their items, read state, stars, unread counts.

Read state is stored as exceptions (see app.storage.models.Subscription): an
item is read when its ``item_states`` row says so, else when the subscription's
watermark covers it. "Mark all read" moves the watermark: one statement
whatever the number of items. Every query starts from the person's
subscriptions, so nobody reaches an item of a feed they do not follow.

Reads return :class:`RiverItem` rows; writes return what they changed; callers commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.storage.models import MAX_ID
from app.storage.pagination import BadCursor, Page, decode_cursor, encode_cursor

#: The read state of item ``i`` for subscription ``s`` and state row ``st``.
READ_SQL = (
    "coalesce(st.read, i.id <= s.read_upto_id "
    "OR (s.read_before IS NOT NULL AND i.sort_at < s.read_before))"
)
ITEM_COLUMNS = (
    "i.id, i.feed_id, i.url, i.title, i.author, i.summary_html, i.content_html, "
    "i.published_at, i.updated_at, i.sort_at, i.enclosures, "
    "coalesce(s.title, f.title, f.current_url) AS feed_title, s.folder_id, "
    f"{READ_SQL} AS read, coalesce(st.starred, false) AS starred, st.starred_at"
)
FROM_SQL = (
    "FROM subscriptions s "
    "JOIN feeds f ON f.id = s.feed_id "
    "JOIN items i ON i.feed_id = s.feed_id "
    "LEFT JOIN item_states st ON st.user_id = s.user_id AND st.item_id = i.id "
)


@dataclass(frozen=True)
class Filters:
    """Which of the person's items a river or search shows.

    ``feed_ids``: only these feeds (None: all; a folder is turned into its feeds by
    app.services.reading); ``unread_only``; ``starred_only``.
    """

    feed_ids: Sequence[int] | None = None
    unread_only: bool = False
    starred_only: bool = False


@dataclass(frozen=True)
class RiverItem:
    """An item as one person sees it: with their feed title, folder, read and starred state."""

    id: int
    feed_id: int
    url: str | None
    title: str | None
    author: str | None
    summary_html: str | None
    content_html: str | None
    published_at: datetime | None
    updated_at: datetime | None
    sort_at: datetime
    feed_title: str
    folder_id: int | None
    read: bool
    starred: bool
    starred_at: datetime | None
    #: The item's files, [{"url", "type", "length"}] (None: none).
    enclosures: list[dict[str, object]] | None = None
    #: Search only: the rank, and the highlighted title and snippet (safe HTML).
    rank: float | None = None
    title_html: str | None = None
    snippet_html: str | None = field(default=None)


def where_sql(user_id: int, filters: Filters, params: dict[str, object]) -> str:
    params["user_id"] = user_id
    clauses = ["s.user_id = :user_id"]
    if filters.feed_ids is not None:
        params["feed_ids"] = list(filters.feed_ids)
        clauses.append("s.feed_id = ANY(:feed_ids)")
    if filters.unread_only:
        clauses.append(f"NOT {READ_SQL}")
    if filters.starred_only:
        clauses.append("st.starred")
    return " AND ".join(clauses)


def _rows(session: Session, sql: str, params: dict[str, object]) -> list[RiverItem]:
    return [RiverItem(**row._mapping) for row in session.execute(text(sql), params)]


def river_page(
    session: Session,
    user_id: int,
    filters: Filters,
    cursor: str | None = None,
    *,
    limit: int = 50,
) -> Page[RiverItem]:
    """The person's items, newest first (``sort_at``, then ``id``), a page at a time.

    The cursor is the (sort_at, id) key of the last item shown: new items never
    shift a page, so paging neither skips nor repeats, and items marked read
    while paging an unread-only river do not move the pages after them.
    """
    params: dict[str, object] = {"limit": limit + 1}
    after = ""
    if cursor:
        sort_at, last_id = decode_cursor(cursor, 2)
        try:
            params["c_sort"] = datetime.fromisoformat(sort_at)
            params["c_id"] = int(last_id)
        except ValueError:
            raise BadCursor("The cursor is not valid.") from None
        after = " AND (i.sort_at, i.id) < (:c_sort, :c_id)"
    if filters.starred_only:
        # Few items are starred: start from the person's stars.
        where = where_sql(user_id, filters, params) + after
        sql = (
            f"SELECT {ITEM_COLUMNS} {FROM_SQL} WHERE {where} "
            "ORDER BY i.sort_at DESC, i.id DESC LIMIT :limit"
        )
    else:
        # Each subscription gives at most a page of its newest items' keys (an
        # index-only scan of ix_items_feed_sort: no item row is read), only those keys
        # are merged and sorted, and only the page's items are then read with their
        # read state. The work grows with the number of subscriptions, not with the
        # number of their items. Unread-only needs the read state of each candidate.
        subscription_filter = where_sql(user_id, Filters(filters.feed_ids), params)
        newest = f"""
                SELECT i.id, i.sort_at FROM items i
                WHERE i.feed_id = s.feed_id{after}
                ORDER BY i.sort_at DESC, i.id DESC LIMIT :limit"""
        if filters.unread_only:
            # Unread: above the watermark (a range of ix_items_feed_id, not the whole
            # feed) and not read one by one, or marked unread one by one under it.
            newest = f"""
                (SELECT i.id, i.sort_at FROM items i
                 LEFT JOIN item_states st ON st.user_id = s.user_id AND st.item_id = i.id
                 WHERE i.feed_id = s.feed_id AND i.id > s.read_upto_id
                   AND (s.read_before IS NULL OR i.sort_at >= s.read_before)
                   AND st.read IS NOT TRUE{after}
                 ORDER BY i.sort_at DESC, i.id DESC LIMIT :limit)
                UNION ALL
                (SELECT i.id, i.sort_at FROM item_states st JOIN items i ON i.id = st.item_id
                 WHERE st.user_id = s.user_id AND st.feed_id = s.feed_id AND NOT st.read
                   AND (i.id <= s.read_upto_id
                        OR (s.read_before IS NOT NULL AND i.sort_at < s.read_before)){after}
                 ORDER BY i.sort_at DESC, i.id DESC LIMIT :limit)"""
        sql = f"""
        SELECT {ITEM_COLUMNS}
        FROM (
            SELECT k.id, k.sort_at
            FROM subscriptions s
            CROSS JOIN LATERAL ({newest}
            ) AS k
            WHERE {subscription_filter}
            ORDER BY k.sort_at DESC, k.id DESC
            LIMIT :limit
        ) AS page
        JOIN items i ON i.id = page.id
        JOIN subscriptions s ON s.feed_id = i.feed_id AND s.user_id = :user_id
        JOIN feeds f ON f.id = s.feed_id
        LEFT JOIN item_states st ON st.user_id = s.user_id AND st.item_id = i.id
        ORDER BY page.sort_at DESC, page.id DESC
        """
    rows = _rows(session, sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].sort_at, rows[-1].id) if more else None)


def get_item(session: Session, user_id: int, item_id: int) -> RiverItem | None:
    """One item of a feed the person follows, as they see it; None otherwise."""
    if not 0 < item_id <= MAX_ID:
        return None
    rows = _rows(
        session,
        f"SELECT {ITEM_COLUMNS} {FROM_SQL} WHERE s.user_id = :user_id AND i.id = :item_id",
        {"user_id": user_id, "item_id": item_id},
    )
    return rows[0] if rows else None


_MARK_SQL = """
INSERT INTO item_states (user_id, item_id, feed_id, read)
SELECT s.user_id, i.id, i.feed_id, :read
FROM items i JOIN subscriptions s ON s.feed_id = i.feed_id AND s.user_id = :user_id
WHERE i.id = ANY(:item_ids)
ON CONFLICT (user_id, item_id) DO UPDATE SET read = excluded.read
RETURNING item_id
"""


def _ids(item_ids: Sequence[int]) -> list[int]:
    return [i for i in item_ids if 0 < i <= MAX_ID]


def mark_read(
    session: Session, user_id: int, item_ids: Sequence[int], read: bool = True
) -> set[int]:
    """Mark the person's items read (or unread); the ids that were theirs to mark."""
    ids = _ids(item_ids)
    if not ids:
        return set()
    result = session.execute(text(_MARK_SQL), {"user_id": user_id, "item_ids": ids, "read": read})
    return {row[0] for row in result}


_STAR_SQL = """
INSERT INTO item_states (user_id, item_id, feed_id, starred, starred_at)
SELECT s.user_id, i.id, i.feed_id, :starred, CASE WHEN :starred THEN now() END
FROM items i JOIN subscriptions s ON s.feed_id = i.feed_id AND s.user_id = :user_id
WHERE i.id = ANY(:item_ids)
ON CONFLICT (user_id, item_id) DO UPDATE SET
    starred = excluded.starred,
    starred_at = CASE WHEN excluded.starred
                      THEN coalesce(item_states.starred_at, excluded.starred_at) END
RETURNING item_id
"""


def set_starred(
    session: Session, user_id: int, item_ids: Sequence[int], starred: bool = True
) -> set[int]:
    """Star (or unstar) the person's items; the ids that were theirs to star."""
    ids = _ids(item_ids)
    if not ids:
        return set()
    result = session.execute(
        text(_STAR_SQL), {"user_id": user_id, "item_ids": ids, "starred": starred}
    )
    return {row[0] for row in result}


_MARK_ALL_SQL = """
WITH newest AS (
    -- The newest item the person saw, else every item stored now: in this statement.
    SELECT coalesce(CAST(:upto_id AS bigint), (SELECT max(id) FROM items), 0) AS id
), subs AS (
    UPDATE subscriptions s SET
        read_upto_id = CASE WHEN CAST(:older_than AS timestamptz) IS NULL
                            THEN greatest(s.read_upto_id, (SELECT id FROM newest))
                            ELSE s.read_upto_id END,
        read_before = CASE WHEN CAST(:older_than AS timestamptz) IS NULL THEN s.read_before
                           ELSE greatest(s.read_before, least(CAST(:older_than AS timestamptz),
                                                              now())) END
    WHERE {where}
    RETURNING s.feed_id
), cleared AS (
    -- "Unread" exceptions the new watermark covers give way to it.
    UPDATE item_states st SET read = NULL
    FROM items i
    WHERE st.user_id = :user_id AND st.feed_id IN (SELECT feed_id FROM subs)
      AND st.read IS NOT NULL AND i.id = st.item_id
      AND CASE WHEN CAST(:older_than AS timestamptz) IS NULL
               THEN i.id <= (SELECT id FROM newest)
               ELSE i.sort_at < least(CAST(:older_than AS timestamptz), now()) END
)
SELECT count(*) FROM subs
"""


def mark_all_read(
    session: Session,
    user_id: int,
    *,
    feed_ids: Sequence[int] | None = None,
    older_than: datetime | None = None,
    upto_id: int | None = None,
) -> int:
    """Mark read every item of the person's feeds (``feed_ids``, or all): one statement.

    ``older_than``: only items sorted before that time (capped at now), through
    the ``read_before`` watermark. Otherwise every item up to ``upto_id`` (the
    newest item the person saw; default: every item stored now), through
    ``read_upto_id``: an item arriving later stays unread. Returns how many
    subscriptions it covered.
    """
    params: dict[str, object] = {"user_id": user_id, "older_than": older_than}
    params["upto_id"] = upto_id
    where = "s.user_id = :user_id"
    if feed_ids is not None:
        params["feed_ids"] = list(feed_ids)
        where += " AND s.feed_id = ANY(:feed_ids)"
    return session.scalar(text(_MARK_ALL_SQL.format(where=where)), params) or 0


# Per subscription: the items above its watermark (an index-only range scan of
# ix_items_feed_id: the unread ones and those read one by one, not the whole feed),
# less those read one by one, plus the "unread" exceptions under the watermark. The
# exceptions are counted in one pass over the person's item_states rows rather than
# by probing item_states once per item above the watermark.
_UNREAD_COUNTS_SQL = """
WITH subs AS MATERIALIZED (
    SELECT feed_id, read_upto_id, read_before FROM subscriptions WHERE user_id = :user_id
), exceptions AS (
    SELECT feed_id,
           count(*) FILTER (WHERE read AND NOT covered) AS read_above,
           count(*) FILTER (WHERE NOT read AND covered) AS unread_below
    FROM (
        SELECT st.feed_id, st.read,
               st.item_id <= s.read_upto_id OR CASE WHEN s.read_before IS NULL THEN false
                   ELSE (SELECT i.sort_at FROM items i WHERE i.id = st.item_id) < s.read_before
               END AS covered
        FROM item_states st JOIN subs s ON s.feed_id = st.feed_id
        WHERE st.user_id = :user_id AND st.read IS NOT NULL
    ) AS st
    GROUP BY feed_id
)
SELECT s.feed_id,
    CASE WHEN s.read_before IS NULL
         THEN (SELECT count(*) FROM items i
               WHERE i.feed_id = s.feed_id AND i.id > s.read_upto_id)
         ELSE (SELECT count(*) FROM items i
               WHERE i.feed_id = s.feed_id AND i.id > s.read_upto_id
                 AND i.sort_at >= s.read_before)
    END - coalesce(e.read_above, 0) + coalesce(e.unread_below, 0)
FROM subs s LEFT JOIN exceptions e ON e.feed_id = s.feed_id
"""


def unread_counts(session: Session, user_id: int) -> dict[int, int]:
    """Unread items per followed feed (feed id -> count; every feed of theirs is there)."""
    return {
        feed_id: count
        for feed_id, count in session.execute(text(_UNREAD_COUNTS_SQL), {"user_id": user_id})
    }

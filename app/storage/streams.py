"""A person's items as the Google Reader API asks for them: streams with filters, by id.

A stream is the person's items narrowed by feed, read and starred state, and
arrival time, newest (or oldest) first by ``(sort_at, id)``: the keyset of
app.storage.reading's river, so a continuation stays valid while items arrive.
Every query starts from the person's subscriptions, as app.storage.reading's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.storage.models import MAX_ID
from app.storage.pagination import BadCursor, Page, decode_cursor, encode_cursor
from app.storage.reading import FROM_SQL, ITEM_COLUMNS, READ_SQL, RiverItem

_EXTRA_COLUMNS = "f.url AS feed_url, f.site_url, i.first_seen_at"
#: ITEM_COLUMNS, from a subquery that has worked out ``read`` and ``starred`` already.
_LATERAL_COLUMNS = (
    "i.id, i.feed_id, i.url, i.title, i.author, i.summary_html, i.content_html, "
    "i.published_at, i.updated_at, i.sort_at, "
    "coalesce(s.title, f.title, f.current_url) AS feed_title, s.folder_id, "
    "i.read, i.starred, i.starred_at"
)


@dataclass(frozen=True)
class StreamQuery:
    """Which of the person's items a stream holds.

    ``feed_ids``: only these feeds (None: all); ``without_feed_ids``: never these;
    ``read`` / ``starred``: only items in that state (None: either); ``since`` /
    ``until``: first seen at or after / at or before; ``oldest_first``: the order.
    """

    feed_ids: Sequence[int] | None = None
    without_feed_ids: Sequence[int] = field(default_factory=tuple)
    read: bool | None = None
    starred: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    oldest_first: bool = False


@dataclass(frozen=True)
class StreamItem:
    """An item as the person sees it, with its feed's address and when it arrived."""

    item: RiverItem
    feed_url: str
    site_url: str | None
    first_seen_at: datetime


#: Pages of at most this many items take each subscription's newest items first (as the
#: river does); longer ones (an app syncing 1000 ids) scan the person's items once, which
#: costs less than a page of that size from every feed. With 200 feeds of 500 items each
#: (the shape of ``python -m bench.greader_streams``; timed on the shared 2-core box under
#: load): 5 ms against 43 ms for 20 items, 144 ms against 51 ms for 250.
LATERAL_MAX = 100


def _columns(columns: str, with_content: bool) -> str:
    """``columns`` with the items' HTML left out (NULL) unless ``with_content``."""
    if with_content:
        return columns
    return columns.replace("i.summary_html", "NULL AS summary_html").replace(
        "i.content_html", "NULL AS content_html"
    )


def _where(user_id: int, query: StreamQuery, params: dict[str, object]) -> tuple[str, str]:
    """The conditions on the subscription, and those on each item (``i``, ``st``)."""
    params["user_id"] = user_id
    on_subscription = ["s.user_id = :user_id"]
    if query.feed_ids is not None:
        params["feed_ids"] = list(query.feed_ids)
        on_subscription.append("s.feed_id = ANY(:feed_ids)")
    if query.without_feed_ids:
        params["without_feed_ids"] = list(query.without_feed_ids)
        on_subscription.append("NOT s.feed_id = ANY(:without_feed_ids)")
    on_item = []
    if query.read is not None:
        on_item.append(READ_SQL if query.read else f"NOT {READ_SQL}")
    if query.starred is not None:
        on_item.append(
            "coalesce(st.starred, false)" if query.starred else "NOT coalesce(st.starred, false)"
        )
    if query.since is not None:
        params["since"] = query.since
        on_item.append("i.first_seen_at >= :since")
    if query.until is not None:
        params["until"] = query.until
        on_item.append("i.first_seen_at <= :until")
    return " AND ".join(on_subscription), "".join(f" AND {c}" for c in on_item)


def _after(cursor: str | None, oldest_first: bool, params: dict[str, object]) -> str:
    if not cursor:
        return ""
    sort_at, last_id = decode_cursor(cursor, 2)
    try:
        params["c_sort"] = datetime.fromisoformat(sort_at)
        params["c_id"] = int(last_id)
    except ValueError:
        raise BadCursor("The continuation is not valid.") from None
    return f" AND (i.sort_at, i.id) {'>' if oldest_first else '<'} (:c_sort, :c_id)"


def _stream_items(session: Session, sql: str, params: dict[str, object]) -> list[StreamItem]:
    found = []
    for row in session.execute(text(sql), params):
        values = dict(row._mapping)
        extra = {name: values.pop(name) for name in ("feed_url", "site_url", "first_seen_at")}
        found.append(StreamItem(RiverItem(**values), **extra))
    return found


def stream_page(
    session: Session,
    user_id: int,
    query: StreamQuery,
    cursor: str | None,
    *,
    limit: int,
    with_content: bool = True,
) -> Page[StreamItem]:
    """A page of the person's stream; the next page's cursor when there is one. Without
    content, the items' ``summary_html`` and ``content_html`` are None (for lists of ids).

    BadCursor for a cursor this function did not hand out.
    """
    params: dict[str, object] = {"limit": limit + 1}
    on_subscription, on_item = _where(user_id, query, params)
    on_item += _after(cursor, query.oldest_first, params)
    order = "ASC" if query.oldest_first else "DESC"
    if query.starred or limit > LATERAL_MAX:
        # Few items are starred: a scan of the person's items finds them at once; a long
        # page costs less read in one scan than a page of that size from every feed.
        sql = (
            f"SELECT {_columns(ITEM_COLUMNS, with_content)}, {_EXTRA_COLUMNS} {FROM_SQL} "
            f"WHERE {on_subscription}{on_item} "
            f"ORDER BY i.sort_at {order}, i.id {order} LIMIT :limit"
        )
    else:
        # As the river: each subscription gives at most a page of its items (a range scan
        # of ix_items_feed_sort), and only those are merged and sorted.
        sql = f"""
        SELECT {_columns(_LATERAL_COLUMNS, with_content)}, {_EXTRA_COLUMNS}
        FROM subscriptions s
        JOIN feeds f ON f.id = s.feed_id
        CROSS JOIN LATERAL (
            SELECT i.id, i.feed_id, i.url, i.title, i.author,
                   {_columns("i.summary_html, i.content_html", with_content)},
                   i.published_at, i.updated_at, i.sort_at, i.first_seen_at,
                   {READ_SQL} AS read, coalesce(st.starred, false) AS starred, st.starred_at
            FROM items i
            LEFT JOIN item_states st ON st.user_id = s.user_id AND st.item_id = i.id
            WHERE i.feed_id = s.feed_id{on_item}
            ORDER BY i.sort_at {order}, i.id {order}
            LIMIT :limit
        ) AS i
        WHERE {on_subscription}
        ORDER BY i.sort_at {order}, i.id {order}
        LIMIT :limit
        """
    rows = _stream_items(session, sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].item if rows else None
    return Page(rows, encode_cursor(last.sort_at, last.id) if more and last else None)


def items_with_ids(session: Session, user_id: int, item_ids: Sequence[int]) -> list[StreamItem]:
    """Those of the items ``item_ids`` that are the person's, newest first."""
    ids = [i for i in item_ids if 0 < i <= MAX_ID]
    if not ids:
        return []
    sql = (
        f"SELECT {ITEM_COLUMNS}, {_EXTRA_COLUMNS} {FROM_SQL} "
        "WHERE s.user_id = :user_id AND i.id = ANY(:ids) ORDER BY i.sort_at DESC, i.id DESC"
    )
    return _stream_items(session, sql, {"user_id": user_id, "ids": ids})


def newest_per_feed(session: Session, user_id: int) -> dict[int, datetime]:
    """The ``sort_at`` of the newest item of each of the person's feeds that has items."""
    sql = (
        "SELECT s.feed_id, newest.sort_at FROM subscriptions s "
        "CROSS JOIN LATERAL (SELECT i.sort_at FROM items i WHERE i.feed_id = s.feed_id "
        "ORDER BY i.sort_at DESC LIMIT 1) AS newest WHERE s.user_id = :user_id"
    )
    return {feed_id: when for feed_id, when in session.execute(text(sql), {"user_id": user_id})}

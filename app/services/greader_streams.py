"""The Google Reader API's streams: which items ``s``, ``xt``, ``it``, ``ot``, ``nt`` and ``r``
select, a page at a time, and each item as the API shows it.

A stream names a feed, a label (folder, with its sub-folders) or a state
(reading-list: everything; read; starred; kept-unread: unread). ``xt`` takes a
stream away (``xt=user/-/state/com.google/read``: unread only), ``it`` keeps
only what is also in it. ``ot`` / ``nt`` bound, in seconds, when the item arrived
here (Google Reader's crawl time), so an app syncing "everything since" sees a
late-arriving item with an old date too. The order is the river's, newest first
(``r=o``: oldest first), and a continuation is the river's keyset cursor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.services import greader_ids as ids
from app.services.fever import group_titles
from app.storage import streams, subscriptions
from app.storage.pagination import BadCursor, Page
from app.storage.streams import StreamItem, StreamQuery

#: Most ids per ``stream/items/ids`` answer, and items per ``stream/contents`` answer.
MAX_IDS, MAX_CONTENTS = 1000, 250
#: Most ids one ``stream/items/contents`` request may name.
MAX_ITEM_IDS = 1000
DEFAULT_N = 20
#: Latest time accepted in ``ot`` / ``nt`` (seconds; year 36812).
_MAX_TIME = 2**40


@dataclass(frozen=True)
class StreamArgs:
    """A stream request's arguments, as sent (text; repeated ones as lists)."""

    s: str
    n: str | None = None
    r: str | None = None
    c: str | None = None
    ot: str | None = None
    nt: str | None = None
    xt: Sequence[str] = field(default_factory=tuple)
    it: Sequence[str] = field(default_factory=tuple)

    @classmethod
    def of(
        cls,
        get: Callable[[str], str | None],
        get_all: Callable[[str], list[str]],
        stream: str | None = None,
    ) -> StreamArgs:
        """The arguments of a request (``get`` one value, ``get_all`` a repeated one); the
        stream is ``stream`` (from the path), else ``s``, else the reading-list."""
        return cls(
            s=stream or get("s") or f"user/-/{ids.STATE}{ids.READING_LIST}",
            n=get("n"),
            r=get("r"),
            c=get("c"),
            ot=get("ot"),
            nt=get("nt"),
            xt=get_all("xt"),
            it=get_all("it"),
        )


def _seconds(raw: str | None, name: str) -> datetime | None:
    if raw is None or raw.strip() == "":
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw.strip()) or int(raw) > _MAX_TIME:
        raise ids.Invalid(f"invalid_{name}", f"{name} is a Unix time in seconds.")
    return datetime.fromtimestamp(int(raw), UTC)


def page_size(raw: str | None, most: int) -> int:
    """``n``: a positive number (capped at ``most``, as the apps expect); DEFAULT_N if absent."""
    if raw is None or raw.strip() == "":
        return min(DEFAULT_N, most)
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()) or int(raw) < 1:
        raise ids.Invalid("invalid_n", "n is a positive number of items.")
    return min(int(raw), most)


def label_folder(session: Session, user_id: int, name: str) -> int | None:
    """The id of the person's folder that the label ``name`` names, or None. A label is a
    folder's full title ("Parent / Child") or, failing that, a folder's own name."""
    folders = subscriptions.folders_of(session, user_id)
    match = [i for i, title in sorted(group_titles(folders).items()) if title == name]
    match = match or [f.id for f in folders if f.name == name]
    return match[0] if match else None


def label_feeds(session: Session, user_id: int, name: str) -> list[int]:
    """Ids of the feeds in the person's label ``name``: its folder and those inside it."""
    folder_id = label_folder(session, user_id, name)
    if folder_id is None:
        return []
    tree = subscriptions.folder_and_descendants(session, user_id, folder_id)
    return subscriptions.feeds_in_folders(session, user_id, tree)


def feed_id_of(session: Session, user_id: int, name: str) -> int | None:
    """The id of the person's feed that ``feed/<name>`` names (address or id), or None."""
    for sub in subscriptions.subscriptions_of(session, user_id):
        if name in (sub.feed.url, sub.feed.current_url, str(sub.feed_id)):
            return sub.feed_id
    return None


def _state(query: StreamQuery, name: str, value: bool) -> StreamQuery:
    """``query`` with the state ``name`` (read, starred) required to be ``value``; a
    contradiction (s=read&xt=read) is an empty stream."""
    if getattr(query, name) not in (None, value):
        return replace(query, feed_ids=[])
    return replace(query, **{name: value})


def _narrow(
    session: Session, user_id: int, query: StreamQuery, raw: str, keep: bool
) -> StreamQuery:
    """``query`` restricted to (``keep``) or without (not ``keep``) the stream ``raw``."""
    stream = ids.parse_stream(raw, user_id)
    if stream.kind == "state":
        if stream.name == ids.READING_LIST:
            return query if keep else replace(query, feed_ids=[])
        if stream.name == ids.STARRED:
            return _state(query, "starred", keep)
        unread = stream.name == ids.KEPT_UNREAD
        return _state(query, "read", keep != unread)
    if stream.kind == "feed":
        feed_id = feed_id_of(session, user_id, stream.name)
        feeds = [feed_id] if feed_id is not None else []
    else:
        feeds = label_feeds(session, user_id, stream.name)
    if not keep:
        return replace(query, without_feed_ids=[*query.without_feed_ids, *feeds])
    if query.feed_ids is not None:
        feeds = [f for f in query.feed_ids if f in feeds]
    return replace(query, feed_ids=feeds)


def stream_query(session: Session, user_id: int, args: StreamArgs) -> StreamQuery:
    """What the stream request selects. A feed or label the person does not have is an
    empty stream (as if just removed), never someone else's."""
    if args.r not in (None, "", "o", "n", "d"):
        raise ids.Invalid("invalid_r", "r is o (oldest first) or absent (newest first).")
    query = StreamQuery(
        since=_seconds(args.ot, "ot"), until=_seconds(args.nt, "nt"), oldest_first=args.r == "o"
    )
    query = _narrow(session, user_id, query, args.s, keep=True)
    for raw in args.it:
        query = _narrow(session, user_id, query, raw, keep=True)
    for raw in args.xt:
        query = _narrow(session, user_id, query, raw, keep=False)
    return query


def _page(
    session: Session, user_id: int, args: StreamArgs, most: int, *, with_content: bool
) -> Page[StreamItem]:
    query = stream_query(session, user_id, args)
    limit = page_size(args.n, most)
    if args.c is not None and len(args.c) > 200:
        raise ids.Invalid("invalid_continuation", "c is a continuation this server gave.")
    if query.feed_ids == []:
        return Page([], None)
    try:
        return streams.stream_page(
            session, user_id, query, args.c or None, limit=limit, with_content=with_content
        )
    except BadCursor:
        raise ids.Invalid("invalid_continuation", "c is a continuation this server gave.") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def usec(when: datetime) -> str:
    """``when`` in microseconds since 1970, exactly (a float timestamp can be 1 µs off, and
    an app hands the value back as mark-all-as-read's ``ts``)."""
    return str((when - _EPOCH) // timedelta(microseconds=1))


def item_ids(session: Session, user_id: int, args: StreamArgs) -> dict[str, object]:
    """``stream/items/ids``: the stream's item ids (short form), a page at a time."""
    page = _page(session, user_id, args, MAX_IDS, with_content=False)
    result: dict[str, object] = {
        "itemRefs": [
            {
                "id": str(row.item.id),
                "directStreamIds": [],
                "timestampUsec": usec(row.item.sort_at),
            }
            for row in page.rows
        ]
    }
    if page.next_cursor:
        result["continuation"] = page.next_cursor
    return result


def item_json(row: StreamItem, user_id: int, labels: dict[int, str]) -> dict[str, object]:
    """One item as the API shows it (``labels``: folder id -> label name)."""
    item = row.item
    categories = [ids.state_stream(user_id, ids.READING_LIST)]
    if item.read:
        categories.append(ids.state_stream(user_id, ids.READ))
    if item.starred:
        categories.append(ids.state_stream(user_id, ids.STARRED))
    if item.folder_id is not None and item.folder_id in labels:
        categories.append(ids.label_stream(user_id, labels[item.folder_id]))
    published = item.published_at or item.sort_at
    link = [{"href": item.url, "type": "text/html"}] if item.url else []
    return {
        "id": ids.long_item_id(item.id),
        "crawlTimeMsec": str((row.first_seen_at - _EPOCH) // timedelta(milliseconds=1)),
        "timestampUsec": usec(item.sort_at),
        "published": int(published.timestamp()),
        "updated": int((item.updated_at or published).timestamp()),
        "title": item.title or "",
        "author": item.author or "",
        "canonical": link,
        "alternate": link,
        "categories": categories,
        "origin": {
            "streamId": ids.feed_stream(row.feed_url),
            "title": item.feed_title,
            "htmlUrl": row.site_url or "",
        },
        "summary": {"direction": "ltr", "content": item.content_html or item.summary_html or ""},
    }


def _labels(session: Session, user_id: int) -> dict[int, str]:
    return group_titles(subscriptions.folders_of(session, user_id))


def contents(session: Session, user_id: int, args: StreamArgs) -> dict[str, object]:
    """``stream/contents/<stream>``: the stream's items, a page at a time."""
    page = _page(session, user_id, args, MAX_CONTENTS, with_content=True)
    labels = _labels(session, user_id)
    now = datetime.now(UTC)
    result: dict[str, object] = {
        "direction": "ltr",
        "id": args.s,
        "title": args.s,
        "updated": int(now.timestamp()),
        "updatedUsec": usec(now),
        "items": [item_json(row, user_id, labels) for row in page.rows],
    }
    if page.next_cursor:
        result["continuation"] = page.next_cursor
    return result


def parse_item_ids(raw: Sequence[str]) -> list[int]:
    """The item ids of repeated ``i`` arguments (long or short form); Invalid for one we cannot
    read or for more than MAX_ITEM_IDS."""
    if len(raw) > MAX_ITEM_IDS:
        raise ids.Invalid("too_many_ids", f"Send at most {MAX_ITEM_IDS} i= ids per request.")
    return [ids.parse_item_id(value) for value in raw]


def items_contents(session: Session, user_id: int, raw_ids: Sequence[str]) -> dict[str, object]:
    """``stream/items/contents``: the person's items among ``raw_ids``, newest first."""
    rows = streams.items_with_ids(session, user_id, parse_item_ids(raw_ids))
    labels = _labels(session, user_id)
    now = datetime.now(UTC)
    return {
        "direction": "ltr",
        "id": ids.state_stream(user_id, ids.READING_LIST),
        "updated": int(now.timestamp()),
        "items": [item_json(row, user_id, labels) for row in rows],
    }

"""The Fever API's answers (https://feedafever.com/api, as FreshRSS and Miniflux serve it).

A Fever client keeps a local copy: it lists groups (our folders) and feeds,
pages through items by id, fetches the ids of unread and saved (starred) items,
and marks items, feeds or groups. The blueprint (app.web.fever) checks the
``api_key``; everything here works on that person's data only.

Folders nest, Fever groups do not: a sub-folder is a group of its own titled
"Parent / Child", and a feed belongs to the group of its own folder. A feed in
no folder is in no group (Fever's "Kindling", group 0, is every feed).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.storage import icons, reading, subscriptions, sync
from app.storage.reading import RiverItem
from app.storage.subscriptions import FolderRow

API_VERSION = 3
#: Items per ``items`` call, as Fever answers; also the most ``with_ids`` takes.
PAGE = 50
#: Latest ``before`` accepted (year 36812): later ones cannot be a time.
_MAX_TIME = 2**40


class Invalid(ValueError):
    """A request the API cannot act on: ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _epoch(when: datetime | None) -> int:
    return int(when.timestamp()) if when is not None else 0


def _int(params: Mapping[str, str], name: str, *, signed: bool = False) -> int:
    raw = params.get(name, "").strip()
    pattern = r"-?[0-9]{1,19}" if signed else r"[0-9]{1,19}"
    if not re.fullmatch(pattern, raw) or abs(int(raw)) >= 2**63:
        raise Invalid(f"invalid_{name}", f"{name} must be a whole number.")
    return int(raw)


def group_titles(folders: list[FolderRow]) -> dict[int, str]:
    """Each folder's title as a flat group: "Parent / Child" for a folder inside another
    (the Google Reader API's labels are named alike)."""
    by_id = {f.id: f for f in folders}
    titles = {}
    for folder in folders:
        names, seen, current = [], set(), folder
        while current is not None and current.id not in seen:
            seen.add(current.id)
            names.append(current.name)
            current = by_id.get(current.parent_id) if current.parent_id else None
        titles[folder.id] = " / ".join(reversed(names))
    return titles


def _feeds_groups(subs: list) -> list[dict[str, object]]:
    members: dict[int, list[int]] = {}
    for sub in subs:
        if sub.folder_id is not None:
            members.setdefault(sub.folder_id, []).append(sub.feed_id)
    return [
        {"group_id": group_id, "feed_ids": ",".join(str(i) for i in sorted(ids))}
        for group_id, ids in sorted(members.items())
    ]


def _item_json(item: RiverItem) -> dict[str, object]:
    return {
        "id": item.id,
        "feed_id": item.feed_id,
        "title": item.title or "",
        "author": item.author or "",
        "html": item.content_html or item.summary_html or "",
        "url": item.url or "",
        "is_saved": int(item.starred),
        "is_read": int(item.read),
        "created_on_time": _epoch(item.published_at or item.sort_at),
    }


def _items(session: Session, user_id: int, params: Mapping[str, str]) -> dict[str, object]:
    if "with_ids" in params:
        raw = [part.strip() for part in params["with_ids"].split(",") if part.strip()]
        if len(raw) > PAGE or not all(re.fullmatch(r"[0-9]{1,19}", part) for part in raw):
            raise Invalid("invalid_with_ids", f"with_ids is a list of at most {PAGE} item ids.")
        rows = sync.items_by_id(session, user_id, ids=[int(p) for p in raw], limit=PAGE)
    elif "since_id" in params:
        rows = sync.items_by_id(session, user_id, after_id=_int(params, "since_id"), limit=PAGE)
    elif "max_id" in params:
        max_id = _int(params, "max_id")
        # max_id=0 asks for the newest items.
        rows = sync.items_by_id(session, user_id, before_id=max_id or 2**63 - 1, limit=PAGE)
    else:
        rows = sync.items_by_id(session, user_id, limit=PAGE)
    return {
        "items": [_item_json(item) for item in rows],
        "total_items": sync.count_items(session, user_id),
    }


def _ids(values: list[int]) -> str:
    return ",".join(str(i) for i in values)


def _mark(session: Session, user_id: int, params: Mapping[str, str]) -> str:
    """Apply ``mark``; which id list the answer carries (unread or saved)."""
    kind, action = params.get("mark", ""), params.get("as", "")
    if kind == "item":
        item_id = _int(params, "id")
        if action in ("read", "unread"):
            reading.mark_read(session, user_id, [item_id], action == "read")
        elif action in ("saved", "unsaved"):
            reading.set_starred(session, user_id, [item_id], action == "saved")
            session.commit()
            return "saved_item_ids"
        else:
            raise Invalid("invalid_as", "as is read, unread, saved or unsaved for an item.")
    elif kind in ("feed", "group"):
        if action != "read":
            raise Invalid("invalid_as", f"A {kind} can only be marked read.")
        target = _int(params, "id", signed=True)
        older_than = None
        if params.get("before", "").strip():
            before = _int(params, "before")
            if before > _MAX_TIME:
                raise Invalid("invalid_before", "before is a Unix time.")
            older_than = datetime.fromtimestamp(before, UTC)
        feed_ids: list[int] | None
        if kind == "feed":
            feed_ids = [target]
        elif target == 0:
            feed_ids = None  # Kindling: every feed
        elif target < 0:
            feed_ids = []  # Sparks and the like: we have none
        else:
            folders = subscriptions.folder_and_descendants(session, user_id, target)
            feed_ids = subscriptions.feeds_in_folders(session, user_id, folders)
        if feed_ids != []:
            reading.mark_all_read(session, user_id, feed_ids=feed_ids, older_than=older_than)
    else:
        raise Invalid("invalid_mark", "mark is item, feed or group.")
    session.commit()
    return "unread_item_ids"


def answer(session: Session, user_id: int, params: Mapping[str, str]) -> dict[str, object]:
    """The authenticated answer to a Fever request whose arguments (query and form
    together) are ``params``: a mark is applied first, then each list asked for."""
    result: dict[str, object] = {"api_version": API_VERSION, "auth": 1}
    wanted = set(params)
    if "mark" in params:
        wanted.add(_mark(session, user_id, params))
    if wanted & {"groups", "feeds"}:
        subs = subscriptions.subscriptions_of(session, user_id)
        with_icon = icons.icon_versions(session, user_id) if "feeds" in wanted else {}
        result["feeds_groups"] = _feeds_groups(subs)
        if "groups" in wanted:
            titles = group_titles(subscriptions.folders_of(session, user_id))
            result["groups"] = [{"id": i, "title": t} for i, t in sorted(titles.items())]
        if "feeds" in wanted:
            result["feeds"] = [
                {
                    "id": sub.feed_id,
                    # A feed's favicon has the feed's id; 0 is none.
                    "favicon_id": sub.feed_id if sub.feed_id in with_icon else 0,
                    "title": sub.title or sub.feed.title or sub.feed.current_url,
                    "url": sub.feed.current_url,
                    "site_url": sub.feed.site_url or "",
                    "is_spark": 0,
                    "last_updated_on_time": _epoch(sub.feed.last_success_at),
                }
                for sub in subs
            ]
    if "favicons" in wanted:
        result["favicons"] = [
            {
                "id": icon.feed_id,
                "data": f"{icon.content_type};base64,{base64.b64encode(icon.body).decode()}",
            }
            for icon in icons.icons_of(session, user_id)
        ]
    if "links" in wanted:
        result["links"] = []  # no hot links
    if "items" in wanted:
        result.update(_items(session, user_id, params))
    if "unread_item_ids" in wanted:
        result["unread_item_ids"] = _ids(sync.unread_ids(session, user_id))
    if "saved_item_ids" in wanted:
        result["saved_item_ids"] = _ids(sync.starred_ids(session, user_id))
    result["last_refreshed_on_time"] = _epoch(sync.last_refreshed(session, user_id))
    return result

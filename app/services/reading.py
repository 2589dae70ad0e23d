"""A person's reading: subscriptions, folders, the river, search, read state and stars.

The blueprints call these; each turns the person's filters (a folder means
its feeds and those of its sub-folders) into storage calls, commits writes,
and raises NotFound for anything that is not the person's: someone else's
feed, folder or item does not exist for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.services.text import storable
from app.storage import reading, search, subscriptions
from app.storage.pagination import Page
from app.storage.reading import Filters, RiverItem

MAX_FOLDER_NAME = 200
MAX_TITLE = 500
MAX_QUERY = 500


class NotFound(LookupError):
    """Not the person's (or not there): ``code`` and ``message`` say which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Invalid(ValueError):
    """A refused change: ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Scope:
    """What a river, search or mark-all-read covers: one feed, one folder (with its
    sub-folders), or everything; plus the unread / starred filters."""

    feed_id: int | None = None
    folder_id: int | None = None
    unread_only: bool = False
    starred_only: bool = False


def filters_for(session: Session, user_id: int, scope: Scope) -> Filters:
    """The storage filters of the person's ``scope``; NotFound for a feed or folder not theirs."""
    feed_ids: Sequence[int] | None = None
    if scope.feed_id is not None:
        if not subscriptions.is_subscribed(session, user_id, scope.feed_id):
            raise NotFound("feed_not_found", f"There is no feed {scope.feed_id}.")
        feed_ids = [scope.feed_id]
    elif scope.folder_id is not None:
        folders = subscriptions.folder_and_descendants(session, user_id, scope.folder_id)
        if not folders:
            raise NotFound("folder_not_found", f"There is no folder {scope.folder_id}.")
        feed_ids = subscriptions.feeds_in_folders(session, user_id, folders)
    return Filters(feed_ids, scope.unread_only, scope.starred_only)


def river(
    session: Session, user_id: int, scope: Scope, cursor: str | None, limit: int
) -> Page[RiverItem]:
    """A page of the person's river (BadCursor for a cursor not handed out)."""
    filters = filters_for(session, user_id, scope)
    return reading.river_page(session, user_id, filters, cursor, limit=limit)


def find(
    session: Session, user_id: int, query: str, scope: Scope, cursor: str | None, limit: int
) -> Page[RiverItem]:
    """A page of search results over the person's items."""
    if not query.strip() or len(query) > MAX_QUERY or not storable(query):
        raise Invalid("invalid_query", f"Search for 1 to {MAX_QUERY} characters.")
    filters = filters_for(session, user_id, scope)
    return search.search(session, user_id, query, filters, cursor, limit=limit)


def item(session: Session, user_id: int, item_id: int) -> RiverItem:
    """One of the person's items; NotFound otherwise."""
    found = reading.get_item(session, user_id, item_id)
    if found is None:
        raise NotFound("item_not_found", f"There is no item {item_id}.")
    return found


def mark_read(session: Session, user_id: int, item_ids: Sequence[int], read: bool) -> set[int]:
    """Mark the person's items read or unread; the ids changed. Commits."""
    done = reading.mark_read(session, user_id, item_ids, read)
    session.commit()
    return done


def star(session: Session, user_id: int, item_ids: Sequence[int], starred: bool) -> set[int]:
    """Star or unstar the person's items; the ids changed. Commits."""
    done = reading.set_starred(session, user_id, item_ids, starred)
    session.commit()
    return done


def mark_all_read(
    session: Session,
    user_id: int,
    scope: Scope,
    *,
    older_than: datetime | None = None,
    upto_id: int | None = None,
) -> int:
    """Mark everything in the scope read (one statement); subscriptions covered. Commits."""
    filters = filters_for(session, user_id, scope)
    count = reading.mark_all_read(
        session, user_id, feed_ids=filters.feed_ids, older_than=older_than, upto_id=upto_id
    )
    session.commit()
    return count


@dataclass(frozen=True)
class Counts:
    """Unread items per feed and per folder (a folder counts its sub-folders too)."""

    feeds: dict[int, int]
    folders: dict[int, int]
    total: int


def unread_counts(
    session: Session,
    user_id: int,
    *,
    lines: Sequence[subscriptions.SubscriptionLine] | None = None,
    folder_rows: Sequence[subscriptions.FolderRow] | None = None,
) -> Counts:
    """The sidebar's unread counts. ``lines`` and ``folder_rows``: the person's
    subscriptions and folders when the caller has read them already."""
    per_feed = reading.unread_counts(session, user_id)
    if folder_rows is None:
        folder_rows = subscriptions.folders_of(session, user_id)
    if lines is None:
        lines = subscriptions.subscription_lines(session, user_id)
    parents = {f.id: f.parent_id for f in folder_rows}
    per_folder = {f.id: 0 for f in folder_rows}
    for sub in lines:
        folder_id, seen = sub.folder_id, set()
        while folder_id is not None and folder_id in per_folder and folder_id not in seen:
            seen.add(folder_id)
            per_folder[folder_id] += per_feed.get(sub.feed_id, 0)
            folder_id = parents.get(folder_id)
    return Counts(per_feed, per_folder, sum(per_feed.values()))


def unsubscribe(session: Session, user_id: int, feed_id: int) -> None:
    """Stop following the feed; NotFound when the person did not. Commits."""
    if not subscriptions.unsubscribe(session, user_id, feed_id):
        raise NotFound("feed_not_found", f"There is no feed {feed_id}.")
    session.commit()


def update_subscription(
    session: Session, user_id: int, feed_id: int, changes: dict[str, object]
) -> None:
    """Change the person's ``title`` (None: the feed's own) or ``folder_id`` (None: no
    folder) of a subscription. Commits."""
    values: dict[str, object] = {}
    if "title" in changes:
        title = changes["title"]
        if title is not None and (
            not isinstance(title, str) or len(title) > MAX_TITLE or not storable(title)
        ):
            raise Invalid("invalid_title", f"A title is text of at most {MAX_TITLE} characters.")
        values["title"] = title.strip() or None if isinstance(title, str) else None
    if "folder_id" in changes:
        folder_id = changes["folder_id"]
        if folder_id is not None:
            if not isinstance(folder_id, int) or isinstance(folder_id, bool):
                raise Invalid("invalid_folder", "folder_id is a folder's id or null.")
            if subscriptions.get_folder(session, user_id, folder_id) is None:
                raise NotFound("folder_not_found", f"There is no folder {folder_id}.")
        values["folder_id"] = folder_id
    if not values:
        raise Invalid("nothing_to_change", "Send title and/or folder_id.")
    if not subscriptions.update_subscription(session, user_id, feed_id, values):
        raise NotFound("feed_not_found", f"There is no feed {feed_id}.")
    session.commit()


def _folder_name(raw: object) -> str:
    if (
        not isinstance(raw, str)
        or not raw.strip()
        or len(raw.strip()) > MAX_FOLDER_NAME
        or not storable(raw)
    ):
        raise Invalid("invalid_name", f"A folder name has 1 to {MAX_FOLDER_NAME} characters.")
    return raw.strip()


def create_folder(session: Session, user_id: int, name: object, parent_id: object) -> int:
    """A new folder of the person's (under ``parent_id``, one of theirs); its id. Commits."""
    clean = _folder_name(name)
    if parent_id is not None:
        if not isinstance(parent_id, int) or isinstance(parent_id, bool):
            raise Invalid("invalid_folder", "parent_id is a folder's id or null.")
        if subscriptions.get_folder(session, user_id, parent_id) is None:
            raise NotFound("folder_not_found", f"There is no folder {parent_id}.")
    folder_id = subscriptions.ensure_folder(session, user_id, clean, parent_id)
    session.commit()
    return folder_id


def rename_folder(session: Session, user_id: int, folder_id: int, name: object) -> None:
    """Rename one of the person's folders. Commits."""
    clean = _folder_name(name)
    try:
        done = subscriptions.rename_folder(session, user_id, folder_id, clean)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Invalid("folder_exists", "A folder of that name is already there.") from None
    if not done:
        raise NotFound("folder_not_found", f"There is no folder {folder_id}.")


def delete_folder(session: Session, user_id: int, folder_id: int) -> None:
    """Remove one of the person's folders (and its sub-folders); feeds stay. Commits."""
    if not subscriptions.delete_folder(session, user_id, folder_id):
        raise NotFound("folder_not_found", f"There is no folder {folder_id}.")
    session.commit()

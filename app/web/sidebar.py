"""The reader's sidebar: the person's folders (nested) and feeds with their unread counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.services import reading
from app.storage.subscriptions import folders_of, subscription_lines


@dataclass
class FeedEntry:
    """One subscription as the sidebar lists it."""

    feed_id: int
    title: str
    unread: int


@dataclass
class FolderEntry:
    """One folder with its sub-folders and feeds; ``unread`` counts them all."""

    folder_id: int
    name: str
    unread: int
    folders: list[FolderEntry] = field(default_factory=list)
    feeds: list[FeedEntry] = field(default_factory=list)


@dataclass
class Sidebar:
    """The top-level folders, the feeds outside any folder, and the total unread."""

    folders: list[FolderEntry]
    feeds: list[FeedEntry]
    total: int

    def unread_by_feed(self) -> dict[int, int]:
        """Unread items per feed id, wherever the feed sits in the tree."""
        found = {feed.feed_id: feed.unread for feed in self.feeds}
        stack = list(self.folders)
        while stack:
            folder = stack.pop()
            found.update((feed.feed_id, feed.unread) for feed in folder.feeds)
            stack.extend(folder.folders)
        return found


def sidebar(session: Session, user_id: int) -> Sidebar:
    """The person's sidebar, folders and feeds by name."""
    rows = folders_of(session, user_id)
    lines = subscription_lines(session, user_id)
    counts = reading.unread_counts(session, user_id, lines=lines, folder_rows=rows)
    folders = {f.id: FolderEntry(f.id, f.name, counts.folders.get(f.id, 0)) for f in rows}
    top: list[FolderEntry] = []
    for row in rows:
        parent = folders.get(row.parent_id) if row.parent_id is not None else None
        (parent.folders if parent else top).append(folders[row.id])
    loose: list[FeedEntry] = []
    for sub in lines:
        entry = FeedEntry(sub.feed_id, sub.title, counts.feeds.get(sub.feed_id, 0))
        folder = folders.get(sub.folder_id) if sub.folder_id is not None else None
        (folder.feeds if folder else loose).append(entry)
    return Sidebar(top, loose, counts.total)

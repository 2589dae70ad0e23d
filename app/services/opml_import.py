"""Importing an OPML subscription list, and reporting how its feeds are being fetched.

An import submits every valid entry as the home form would, then stores the
import in Postgres: which fetch each submitted entry got, and why each refused
one was refused. The progress page reads the fetches' states from Postgres on
every view, so it survives a Redis flush like the fetches themselves. An import
is shown for a day (:data:`KEPT_FOR`); each new one removes those older than that.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.config import Settings
from app.opml import OpmlEntry, parse_opml, plan_import
from app.queue.queues import Queues
from app.services.submissions import (
    QueueFull,
    QueueUnavailable,
    Subscriber,
    blocked_reason,
    submit_url,
)
from app.storage import imports
from app.storage.imports import Entry
from app.storage.subscriptions import ensure_folder, folders_of, subscriptions_of

#: How long an import's progress can be looked at.
KEPT_FOR = timedelta(days=1)
#: The longest file name kept for the progress page's title.
MAX_NAME = 200
QUEUE_DOWN = "The job queue is unavailable; import this one again later."
QUEUE_FULL = "The job queue is full; import this one again later."
OVER_LIMIT = (
    "Over your submission rate limit (each feed of an import counts as a submission); "
    "import this one again later."
)
_DONE = ("succeeded", "failed", "deleted")


def import_opml(
    session: Session,
    queues: Queues,
    settings: Settings,
    *,
    name: str,
    data: bytes,
    user_id: int,
    charge: Callable[[], bool] = lambda: True,
) -> uuid.UUID:
    """Subscribe the person ``user_id`` to every valid feed of the OPML file ``data``,
    filed in folders as the file's categories nest, and store the import; its id.

    Each feed is a submission: ``charge()`` counts it against the client's rate
    limit and says False when the client is over it. Raises app.opml.OpmlError
    when the file as a whole cannot be read. When the client's limit is reached,
    or the queue is full or down, what was queued stays and the rest is reported
    refused, to be imported again later.
    """
    plan = plan_import(parse_opml(data).entries, check=lambda url: blocked_reason(url, settings))
    submitted: list[Entry] = []
    unqueued: list[Entry] = []
    folders: dict[tuple[str, ...], int | None] = {(): None}
    for index, (entry, url) in enumerate(plan.accepted):
        why_not = None
        if not charge():
            why_not = OVER_LIMIT
        else:
            subscriber = Subscriber.of(
                user_id,
                settings,
                folder_id=_folder(session, user_id, entry.folder, folders),
                title=entry.title if entry.title != entry.xml_url else None,
            )
            try:
                done = submit_url(session, queues, url, subscriber)
            except QueueUnavailable:
                why_not = QUEUE_DOWN
            except QueueFull:
                why_not = QUEUE_FULL
        if why_not is not None:
            unqueued = [
                Entry(later.line, later.title, later_url, refusal=why_not)
                for later, later_url in plan.accepted[index:]
            ]
            break
        submitted.append(Entry(entry.line, entry.title, url, done.feed_id, done.fetch.id))
    refused = [
        Entry(r.entry.line, r.entry.title, r.entry.xml_url, refusal=r.reason)
        for r in plan.rejected
    ]
    imports.delete_imports_before(session, datetime.now(UTC) - KEPT_FOR)
    import_id = imports.create_import(
        session, name[:MAX_NAME], [*submitted, *refused, *unqueued], user_id=user_id
    )
    session.commit()
    return import_id


def _folder(
    session: Session,
    user_id: int,
    path: tuple[str, ...],
    known: dict[tuple[str, ...], int | None],
) -> int | None:
    """The person's folder for a category path, nested as in the file (created if needed)."""
    if path not in known:
        parent = _folder(session, user_id, path[:-1], known)
        known[path] = ensure_folder(session, user_id, path[-1], parent)
    return known[path]


@dataclass(frozen=True)
class ImportedFeed:
    """A submitted entry and its fetch's state now (``deleted``: its feed is gone)."""

    title: str
    url: str
    feed_id: int | None
    fetch_id: uuid.UUID | None
    state: str
    error: str | None
    error_code: str | None
    items_new: int | None


@dataclass(frozen=True)
class Refusal:
    line: int
    title: str
    url: str
    reason: str


@dataclass(frozen=True)
class Progress:
    """An import as its progress page shows it."""

    name: str
    feeds: list[ImportedFeed]
    refused: list[Refusal]

    @property
    def done(self) -> int:
        return sum(1 for feed in self.feeds if feed.state in _DONE)

    @property
    def failed(self) -> int:
        return sum(1 for feed in self.feeds if feed.state == "failed")

    @property
    def summary(self) -> dict[str, int]:
        """Counts for the page and its poll: total, done, failed, pending."""
        total, done = len(self.feeds), self.done
        return {"total": total, "done": done, "failed": self.failed, "pending": total - done}


def import_progress(session: Session, import_id: uuid.UUID, user_id: int) -> Progress | None:
    """The person's import with each feed's fetch state as it is now; None when unknown,
    someone else's or too old."""
    record = imports.get_import(
        session, import_id, since=datetime.now(UTC) - KEPT_FOR, user_id=user_id
    )
    if record is None:
        return None
    feeds = [
        ImportedFeed(
            title=entry.title,
            url=entry.url,
            feed_id=entry.feed_id,
            fetch_id=entry.fetch_id,
            state=fetch.state.value if fetch else "deleted",
            error=fetch.error_message if fetch else None,
            error_code=fetch.error_code if fetch else None,
            items_new=fetch.items_new if fetch else None,
        )
        for entry, fetch in imports.submitted_with_fetches(session, import_id)
    ]
    refused = [
        Refusal(e.line, e.title, e.url, e.refusal or "")
        for e in imports.refused_entries(session, import_id)
    ]
    return Progress(record.name, feeds, refused)


def export_entries(session: Session, user_id: int) -> list[OpmlEntry]:
    """The person's subscriptions as OPML entries, each with its folder path."""
    folders = {f.id: f for f in folders_of(session, user_id)}

    def path(folder_id: int | None) -> tuple[str, ...]:
        names: list[str] = []
        seen: set[int] = set()
        while folder_id is not None and folder_id in folders and folder_id not in seen:
            seen.add(folder_id)
            names.append(folders[folder_id].name)
            folder_id = folders[folder_id].parent_id
        return tuple(reversed(names))

    return [
        OpmlEntry(
            0,
            sub.title or sub.feed.title or sub.feed.current_url,
            sub.feed.current_url,
            sub.feed.site_url,
            folder=path(sub.folder_id),
        )
        for sub in subscriptions_of(session, user_id)
    ]

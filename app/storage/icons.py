"""The feed_icons table: when a feed's icon is due, writing what the worker found, and
reading icons for the people who follow their feeds (and nobody else)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.storage.models import MAX_ID, Feed, FeedIcon, Subscription

#: After a search that found no icon, the next one waits this long (not the full
#: refresh period: the site may have been down), but no less, so a feed without
#: any icon costs its site a few requests a day at most.
RETRY_AFTER_ERROR = timedelta(days=1)
#: An error message is cut to this many characters.
MAX_ERROR = 500


@dataclass(frozen=True)
class StoredIcon:
    """An icon as served: its sniffed type, bytes and SHA-256 (the ETag)."""

    feed_id: int
    content_type: str
    body: bytes
    sha256: str


@dataclass(frozen=True)
class IconRecord:
    """What a feed's feed_icons row says of its last icon search."""

    fetched_at: datetime
    declared_url: str | None  # the icon the feed named then
    failed: bool  # the search found no icon


def icon_record(session: Session, feed_id: int) -> IconRecord | None:
    """The feed's last icon search (None: never looked for)."""
    row = session.execute(
        select(FeedIcon.fetched_at, FeedIcon.declared_url, FeedIcon.error.is_not(None)).where(
            FeedIcon.feed_id == feed_id
        )
    ).first()
    return None if row is None else IconRecord(*row)


def is_icon_due(
    record: IconRecord | None,
    declared_url: str | None,
    *,
    now: datetime,
    refresh_after: timedelta,
) -> bool:
    """True when the feed's icon should be looked for now: never looked for, older than
    ``refresh_after`` (a day after a failure), or the feed now names another icon."""
    if record is None:
        return True
    if declared_url and declared_url != record.declared_url:
        return True
    wait = min(refresh_after, RETRY_AFTER_ERROR) if record.failed else refresh_after
    return record.fetched_at + wait <= now


def icon_places(session: Session, feed_id: int) -> tuple[str, str | None] | None:
    """Where the feed's icon is looked for besides the one it declares: the feed's
    current address and its site (None when the feed is gone)."""
    row = session.execute(select(Feed.current_url, Feed.site_url).where(Feed.id == feed_id)).first()
    return None if row is None else (row.current_url, row.site_url)


def save_icon(
    session: Session,
    feed_id: int,
    *,
    declared_url: str | None,
    now: datetime,
    found: tuple[str, str, bytes, str] | None = None,
    error: str | None = None,
) -> None:
    """Record a search: ``found`` is (source URL, content type, bytes, SHA-256).

    A failed search keeps the icon found before (an icon that cannot be reached today
    still shows) and records why, so it is tried again after RETRY_AFTER_ERROR.
    """
    values: dict[str, object] = {
        "feed_id": feed_id,
        "declared_url": declared_url,
        "fetched_at": now,
        "error": error[:MAX_ERROR] if error else None,
    }
    if found is not None:
        source_url, content_type, body, sha256 = found
        values.update(source_url=source_url, content_type=content_type, body=body, sha256=sha256)
    statement = insert(FeedIcon).values(**values)
    update = {k: statement.excluded[k] for k in values if k != "feed_id"}
    session.execute(statement.on_conflict_do_update(index_elements=["feed_id"], set_=update))


def _followed(user_id: int) -> Select[tuple[int]]:
    return select(Subscription.feed_id).where(Subscription.user_id == user_id)


def follows(session: Session, user_id: int, feed_id: int) -> bool:
    """True when the person follows the feed (icons are private like everything else)."""
    if not 0 < feed_id <= MAX_ID:
        return False
    found = session.scalar(
        select(Subscription.id).where(
            Subscription.user_id == user_id, Subscription.feed_id == feed_id
        )
    )
    return found is not None


def stored_icon(session: Session, feed_id: int) -> StoredIcon | None:
    """The feed's icon, or None when none was found (check ``follows`` first)."""
    row = session.execute(
        select(FeedIcon.content_type, FeedIcon.body, FeedIcon.sha256).where(
            FeedIcon.feed_id == feed_id, FeedIcon.body.is_not(None)
        )
    ).first()
    if row is None:
        return None
    return StoredIcon(feed_id, row.content_type, row.body, row.sha256)


def icon_versions(session: Session, user_id: int) -> dict[int, str]:
    """``{feed_id: sha256}`` of the person's feeds that have an icon (bytes not loaded)."""
    rows = session.execute(
        select(FeedIcon.feed_id, FeedIcon.sha256).where(
            FeedIcon.feed_id.in_(_followed(user_id)), FeedIcon.body.is_not(None)
        )
    )
    return {feed_id: sha256 for feed_id, sha256 in rows}


def icons_of(session: Session, user_id: int) -> Sequence[StoredIcon]:
    """Every icon of the person's feeds, bytes included (the Fever API sends them all)."""
    rows = session.execute(
        select(FeedIcon.feed_id, FeedIcon.content_type, FeedIcon.body, FeedIcon.sha256)
        .where(FeedIcon.feed_id.in_(_followed(user_id)), FeedIcon.body.is_not(None))
        .order_by(FeedIcon.feed_id)
    )
    return [StoredIcon(r.feed_id, r.content_type, r.body, r.sha256) for r in rows]

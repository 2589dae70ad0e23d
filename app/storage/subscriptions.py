"""The subscriptions and folders tables: who follows which feed, under which title and folder.

Every function takes the person's user id and touches only their rows: a feed
id or folder id of someone else's simply matches nothing. Callers commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Exists, and_, delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, joinedload

from app.storage.models import MAX_ID, Feed, Folder, Item, ItemState, Subscription


def _valid(some_id: int | None) -> bool:
    return some_id is not None and 0 < some_id <= MAX_ID


def keep_newest_unread(
    session: Session, user_id: int, feed_id: int, read_upto_id: int, unread_recent: int
) -> None:
    """For a new subscription whose watermark is ``read_upto_id``: its ``unread_recent``
    newest items stay unread (exceptions to the watermark)."""
    if unread_recent <= 0 or not read_upto_id:
        return
    session.execute(
        text(
            """
            INSERT INTO item_states (user_id, item_id, feed_id, read)
            SELECT :user_id, id, feed_id, false FROM items
            WHERE feed_id = :feed_id AND id <= :newest_id
            ORDER BY sort_at DESC, id DESC
            LIMIT :unread_recent
            ON CONFLICT (user_id, item_id) DO NOTHING
            """
        ),
        {
            "user_id": user_id,
            "feed_id": feed_id,
            "newest_id": read_upto_id,
            "unread_recent": unread_recent,
        },
    )


def get_subscription(session: Session, user_id: int, feed_id: int) -> Subscription | None:
    """The person's subscription to the feed, or None."""
    if not _valid(feed_id):
        return None
    return session.scalar(
        select(Subscription).where(
            Subscription.user_id == user_id, Subscription.feed_id == feed_id
        )
    )


def is_subscribed(session: Session, user_id: int, feed_id: int) -> bool:
    """Whether the person follows the feed."""
    if not _valid(feed_id):
        return False
    return bool(session.scalar(select(followed_by(user_id, feed_id))))


def subscriptions_of(session: Session, user_id: int) -> list[Subscription]:
    """The person's subscriptions (with their feeds loaded), by title."""
    return list(
        session.scalars(
            select(Subscription)
            .join(Feed, Feed.id == Subscription.feed_id)
            .options(joinedload(Subscription.feed))
            .where(Subscription.user_id == user_id)
            .order_by(
                func.lower(func.coalesce(Subscription.title, Feed.title, Feed.url)),
                Subscription.id,
            )
        )
    )


@dataclass(frozen=True)
class SubscriptionLine:
    """A subscription as a list shows it: its feed, folder and the title shown."""

    feed_id: int
    folder_id: int | None
    title: str


def subscription_lines(session: Session, user_id: int) -> list[SubscriptionLine]:
    """The person's subscriptions by title, as plain rows: the sidebar and the unread
    counts list hundreds of them on every page, where loading each subscription and
    feed object would cost more than the queries."""
    shown = func.coalesce(
        func.nullif(Subscription.title, ""), func.nullif(Feed.title, ""), Feed.current_url
    )
    rows = session.execute(
        select(Subscription.feed_id, Subscription.folder_id, shown)
        .join(Feed, Feed.id == Subscription.feed_id)
        .where(Subscription.user_id == user_id)
        .order_by(
            func.lower(func.coalesce(Subscription.title, Feed.title, Feed.url)), Subscription.id
        )
    )
    return [SubscriptionLine(feed_id, folder_id, title) for feed_id, folder_id, title in rows]


def followed_feed_ids(session: Session, user_id: int) -> set[int]:
    """Ids of the feeds the person follows."""
    return set(
        session.scalars(select(Subscription.feed_id).where(Subscription.user_id == user_id))
    )


def update_subscription(
    session: Session, user_id: int, feed_id: int, values: dict[str, object]
) -> bool:
    """Change the person's title (``title``) or folder (``folder_id``) of a subscription."""
    if not _valid(feed_id):
        return False
    result = session.execute(
        update(Subscription)
        .where(Subscription.user_id == user_id, Subscription.feed_id == feed_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


_UNSUBSCRIBE_SQL = text(
    """
    WITH gone AS (
        DELETE FROM subscriptions WHERE user_id = :user_id AND feed_id = :feed_id
        RETURNING feed_id
    ), states AS (
        DELETE FROM item_states
        WHERE user_id = :user_id AND feed_id IN (SELECT feed_id FROM gone)
    ), unfollowed AS (
        -- Nobody follows it any more: the scheduler stops refreshing it.
        UPDATE feeds SET next_fetch_at = NULL
        WHERE id IN (SELECT feed_id FROM gone)
          AND NOT EXISTS (
              SELECT 1 FROM subscriptions
              WHERE feed_id = feeds.id AND user_id <> :user_id
          )
    )
    SELECT count(*) FROM gone
    """
)


def unsubscribe(session: Session, user_id: int, feed_id: int) -> bool:
    """Stop following the feed and forget the person's read and starred state of its items.

    When nobody follows the feed any more, its refreshes stop. Nobody else's
    state changes. One statement. False when the person did not follow it.
    """
    if not _valid(feed_id):
        return False
    count = session.scalar(_UNSUBSCRIBE_SQL, {"user_id": user_id, "feed_id": feed_id})
    return bool(count)


_ADOPT_SQL = text(
    """
    WITH orphans AS (
        SELECT f.id FROM feeds f
        WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)
    ), adopted AS (
        INSERT INTO subscriptions (user_id, feed_id, read_upto_id)
        SELECT :user_id, o.id,
               coalesce((SELECT max(i.id) FROM items i WHERE i.feed_id = o.id), 0)
        FROM orphans o
        ON CONFLICT ON CONSTRAINT uq_subscriptions_user_feed DO NOTHING
        RETURNING feed_id
    ), resumed AS (
        UPDATE feeds SET next_fetch_at = now()
        WHERE id IN (SELECT feed_id FROM adopted) AND next_fetch_at IS NULL
    )
    SELECT count(*) FROM adopted
    """
)


def adopt_unfollowed_feeds(session: Session, user_id: int) -> int:
    """Subscribe the person to every feed nobody follows, read up to now, and let the
    scheduler refresh them again; how many. One statement.

    For the first account of a server that ran before accounts existed: the public
    list becomes theirs instead of being pruned as unfollowed.
    """
    return int(session.scalar(_ADOPT_SQL, {"user_id": user_id}) or 0)


def followed_by(user_id: int, feed_id: object) -> Exists:
    """``EXISTS`` the person's subscription to ``feed_id`` (a value, or a column such as
    ``Fetch.feed_id`` in the query): what makes a feed, and its fetches, theirs to see."""
    return exists().where(Subscription.user_id == user_id, Subscription.feed_id == feed_id)


def followed_by_anyone() -> Exists:
    """``EXISTS`` a subscription to the feed: the scheduler refreshes only such feeds."""
    return exists().where(Subscription.feed_id == Feed.id)


def starred_by_anyone() -> Exists:
    """``EXISTS`` a star on the item (``items`` in the query): retention keeps such items.

    Use it as ``delete(Item).where(..., ~starred_by_anyone())``.
    """
    return exists().where(and_(ItemState.item_id == Item.id, ItemState.starred))


# -- folders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderRow:
    id: int
    name: str
    parent_id: int | None


def folders_of(session: Session, user_id: int) -> list[FolderRow]:
    """The person's folders, by name."""
    return [
        FolderRow(f.id, f.name, f.parent_id)
        for f in session.scalars(
            select(Folder).where(Folder.user_id == user_id).order_by(func.lower(Folder.name))
        )
    ]


def get_folder(session: Session, user_id: int, folder_id: int) -> Folder | None:
    """The person's folder of that id, or None."""
    if not _valid(folder_id):
        return None
    return session.scalar(select(Folder).where(Folder.id == folder_id, Folder.user_id == user_id))


def ensure_folder(
    session: Session, user_id: int, name: str, parent_id: int | None = None
) -> int:
    """The id of the person's folder ``name`` under ``parent_id``, created if needed."""
    session.execute(
        pg_insert(Folder)
        .values(user_id=user_id, name=name, parent_id=parent_id)
        .on_conflict_do_nothing()
    )
    folder_id = session.scalar(
        select(Folder.id).where(
            Folder.user_id == user_id,
            Folder.name == name,
            Folder.parent_id.is_(None) if parent_id is None else Folder.parent_id == parent_id,
        )
    )
    assert folder_id is not None
    return folder_id


def rename_folder(session: Session, user_id: int, folder_id: int, name: str) -> bool:
    """Rename the person's folder; False when they have none of that id."""
    if not _valid(folder_id):
        return False
    result = session.execute(
        update(Folder)
        .where(Folder.id == folder_id, Folder.user_id == user_id)
        .values(name=name)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def delete_folder(session: Session, user_id: int, folder_id: int) -> bool:
    """Remove the person's folder and those inside it; its feeds stay, outside any folder."""
    if not _valid(folder_id):
        return False
    result = session.execute(
        delete(Folder)
        .where(Folder.id == folder_id, Folder.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def folder_and_descendants(session: Session, user_id: int, folder_id: int) -> list[int]:
    """The folder's id and those of every folder nested in it (the person's only)."""
    rows = session.execute(
        text(
            """
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM folders WHERE id = :folder_id AND user_id = :user_id
                UNION
                SELECT f.id FROM folders f JOIN tree ON f.parent_id = tree.id
                WHERE f.user_id = :user_id
            )
            SELECT id FROM tree
            """
        ),
        {"folder_id": folder_id, "user_id": user_id},
    )
    return [row[0] for row in rows]


def feeds_in_folders(session: Session, user_id: int, folder_ids: Iterable[int]) -> list[int]:
    """Ids of the person's feeds filed in any of ``folder_ids``."""
    ids = list(folder_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Subscription.feed_id).where(
                Subscription.user_id == user_id, Subscription.folder_id.in_(ids)
            )
        )
    )

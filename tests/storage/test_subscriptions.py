"""Subscriptions and folders: per person, and what happens to a feed nobody follows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert

from app.storage import subscriptions
from app.storage.db import Database
from app.storage.models import Feed, Item, ItemState
from tests.conftest import add_user
from tests.storage.rows import add_feed, subscribe


def test_the_last_unsubscription_stops_the_feeds_refreshes(db: Database) -> None:
    a, b = add_user(db, "a"), add_user(db, "b")
    with db.session() as session:
        feed = add_feed(session, next_fetch_at=datetime.now(UTC))
        for user in (a, b):
            subscribe(session, user.id, feed.id, unread_recent=5)
        session.commit()
        subscriptions.unsubscribe(session, a.id, feed.id)
        session.commit()
        session.refresh(feed)
        assert feed.next_fetch_at is not None
        subscriptions.unsubscribe(session, b.id, feed.id)
        session.commit()
        session.refresh(feed)
        assert feed.next_fetch_at is None


def test_a_person_cannot_touch_anothers_subscription_or_folder(db: Database) -> None:
    owner, stranger = add_user(db, "owner"), add_user(db, "stranger")
    with db.session() as session:
        feed = add_feed(session)
        folder = subscriptions.ensure_folder(session, owner.id, "News")
        subscribe(session, owner.id, feed.id, unread_recent=5)
        session.commit()
        assert not subscriptions.unsubscribe(session, stranger.id, feed.id)
        assert not subscriptions.update_subscription(
            session, stranger.id, feed.id, {"title": "mine"}
        )
        assert not subscriptions.rename_folder(session, stranger.id, folder, "x")
        assert not subscriptions.delete_folder(session, stranger.id, folder)
        assert subscriptions.folder_and_descendants(session, stranger.id, folder) == []
        assert subscriptions.get_folder(session, stranger.id, folder) is None
        session.commit()
        assert subscriptions.is_subscribed(session, owner.id, feed.id)


def test_folders_nest_and_a_folder_covers_its_sub_folders(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        top = subscriptions.ensure_folder(session, user.id, "Top")
        inner = subscriptions.ensure_folder(session, user.id, "Inner", top)
        assert subscriptions.ensure_folder(session, user.id, "Inner", top) == inner
        feed = add_feed(session)
        subscribe(session, user.id, feed.id, unread_recent=5, folder_id=inner)
        session.commit()
        tree = subscriptions.folder_and_descendants(session, user.id, top)
        assert set(tree) == {top, inner}
        assert subscriptions.feeds_in_folders(session, user.id, tree) == [feed.id]
        subscriptions.delete_folder(session, user.id, top)
        session.commit()
        assert subscriptions.get_subscription(session, user.id, feed.id).folder_id is None


def test_starred_by_anyone_lets_retention_keep_starred_items(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        kept, gone = session.scalars(
            insert(Item).returning(Item.id),
            [
                {"feed_id": feed.id, "key": "kept", "content_hash": "h"},
                {"feed_id": feed.id, "key": "gone", "content_hash": "h"},
            ],
        ).all()
        subscribe(session, user.id, feed.id, unread_recent=0)
        session.execute(
            insert(ItemState).values(user_id=user.id, item_id=kept, feed_id=feed.id, starred=True)
        )
        session.execute(
            delete(Item).where(Item.feed_id == feed.id, ~subscriptions.starred_by_anyone())
        )
        session.commit()
        assert session.get(Item, kept) is not None and session.get(Item, gone) is None
        assert session.get(Feed, feed.id) is not None

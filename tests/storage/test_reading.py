"""Read state, stars, unread counts and the river, as storage keeps them per person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from app.storage import reading
from app.storage.db import Database
from app.storage.models import Item, ItemState, Subscription
from app.storage.reading import Filters
from tests.conftest import add_user
from tests.storage.rows import add_feed, subscribe

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _items(session: Session, feed_id: int, count: int, *, start: int = 0) -> list[int]:
    """``count`` items, item n sorted at BASE + n hours; their ids, oldest first."""
    rows = [
        {
            "feed_id": feed_id,
            "key": f"k{n}",
            "title": f"item {n}",
            "content_hash": "h",
            "sort_at": BASE + timedelta(hours=n),
        }
        for n in range(start, start + count)
    ]
    return list(session.scalars(insert(Item).returning(Item.id), rows))


def _setup(db: Database, count: int = 5, unread_recent: int = 100) -> tuple[int, int, list[int]]:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        ids = _items(session, feed.id, count)
        subscribe(session, user.id, feed.id, unread_recent=unread_recent)
        session.commit()
        return user.id, feed.id, ids


def _unread(db: Database, user_id: int) -> dict[int, int]:
    with db.session() as session:
        return reading.unread_counts(session, user_id)


def test_a_new_subscriber_starts_with_the_newest_items_unread(db: Database) -> None:
    user_id, feed_id, ids = _setup(db, count=10, unread_recent=3)
    with db.session() as session:
        page = reading.river_page(session, user_id, Filters(), limit=20)
    assert [item.id for item in page.rows if not item.read] == ids[::-1][:3]
    assert _unread(db, user_id) == {feed_id: 3}


def test_items_arriving_after_subscription_are_unread(db: Database) -> None:
    user_id, feed_id, _ = _setup(db, count=10, unread_recent=0)
    assert _unread(db, user_id) == {feed_id: 0}
    with db.session() as session:
        _items(session, feed_id, 2, start=100)
        session.commit()
    assert _unread(db, user_id) == {feed_id: 2}


def test_mark_one_read_then_unread(db: Database) -> None:
    user_id, feed_id, ids = _setup(db)
    with db.session() as session:
        assert reading.mark_read(session, user_id, [ids[0]]) == {ids[0]}
        session.commit()
        assert _unread(db, user_id) == {feed_id: 4}
        assert reading.get_item(session, user_id, ids[0]).read
        reading.mark_read(session, user_id, [ids[0]], read=False)
        session.commit()
    assert _unread(db, user_id) == {feed_id: 5}


def test_mark_all_read_is_one_update_whatever_the_number_of_items(db: Database) -> None:
    user_id, feed_id, ids = _setup(db, count=10_000)
    with db.session() as session:
        reading.mark_read(session, user_id, ids[:3], read=False)  # explicit unread rows too
        session.commit()
        statements: list[str] = []
        from sqlalchemy import event

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        connection = session.connection()
        event.listen(connection, "before_cursor_execute", count)
        reading.mark_all_read(session, user_id, feed_ids=[feed_id], upto_id=max(ids))
        event.remove(connection, "before_cursor_execute", count)
        session.commit()
    assert len(statements) == 1
    assert _unread(db, user_id) == {feed_id: 0}


def test_mark_all_read_leaves_items_arriving_later_unread(db: Database) -> None:
    user_id, feed_id, _ = _setup(db)
    with db.session() as session:
        reading.mark_all_read(session, user_id)
        session.commit()
        _items(session, feed_id, 1, start=50)
        session.commit()
    assert _unread(db, user_id) == {feed_id: 1}


def test_mark_read_older_than_keeps_newer_items_unread(db: Database) -> None:
    user_id, feed_id, ids = _setup(db)
    with db.session() as session:
        reading.mark_all_read(session, user_id, older_than=BASE + timedelta(hours=3))
        session.commit()
        page = reading.river_page(session, user_id, Filters(unread_only=True))
    assert [item.id for item in page.rows] == [ids[4], ids[3]]
    assert _unread(db, user_id) == {feed_id: 2}


def test_an_item_marked_unread_after_mark_all_read_counts_as_unread(db: Database) -> None:
    user_id, feed_id, ids = _setup(db)
    with db.session() as session:
        reading.mark_all_read(session, user_id)
        reading.mark_read(session, user_id, [ids[1]], read=False)
        session.commit()
        page = reading.river_page(session, user_id, Filters(unread_only=True))
    assert [item.id for item in page.rows] == [ids[1]]
    assert _unread(db, user_id) == {feed_id: 1}


def test_stars_are_listed_and_kept_per_person(db: Database) -> None:
    user_id, feed_id, ids = _setup(db)
    other = add_user(db, "other")
    with db.session() as session:
        subscribe(session, other.id, feed_id, unread_recent=10)
        assert reading.set_starred(session, user_id, [ids[2]]) == {ids[2]}
        session.commit()
        mine = reading.river_page(session, user_id, Filters(starred_only=True))
        theirs = reading.river_page(session, other.id, Filters(starred_only=True))
    assert [item.id for item in mine.rows] == [ids[2]] and mine.rows[0].starred_at
    assert theirs.rows == []


def test_nobody_marks_or_stars_an_item_of_a_feed_they_do_not_follow(db: Database) -> None:
    _, _, ids = _setup(db)
    stranger = add_user(db, "stranger")
    with db.session() as session:
        assert reading.mark_read(session, stranger.id, ids) == set()
        assert reading.set_starred(session, stranger.id, ids) == set()
        assert reading.get_item(session, stranger.id, ids[0]) is None
        session.commit()
        theirs = select(func.count()).where(ItemState.user_id == stranger.id)
        assert session.scalar(theirs) == 0


def test_the_river_merges_feeds_newest_first_and_filters_by_feed(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        a, b = add_feed(session, "https://a.example/"), add_feed(session, "https://b.example/")
        a_ids = _items(session, a.id, 2, start=0)
        b_ids = _items(session, b.id, 2, start=10)
        for feed in (a, b):
            subscribe(session, user.id, feed.id, unread_recent=10)
        session.commit()
        everything = reading.river_page(session, user.id, Filters())
        only_a = reading.river_page(session, user.id, Filters(feed_ids=[a.id]))
    assert [i.id for i in everything.rows] == [b_ids[1], b_ids[0], a_ids[1], a_ids[0]]
    assert [i.id for i in only_a.rows] == [a_ids[1], a_ids[0]]


def test_river_pages_neither_skip_nor_repeat_while_items_arrive(db: Database) -> None:
    user_id, feed_id, ids = _setup(db, count=25)
    seen: list[int] = []
    cursor = None
    with db.session() as session:
        for page_number in range(10):
            page = reading.river_page(session, user_id, Filters(), cursor, limit=10)
            seen += [item.id for item in page.rows]
            if page_number == 0:  # newer items arrive while the person reads
                _items(session, feed_id, 5, start=1000)
                session.commit()
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ids[::-1]


def test_unsubscribing_forgets_only_that_persons_state(db: Database) -> None:
    from app.storage.subscriptions import unsubscribe

    user_id, feed_id, ids = _setup(db)
    other = add_user(db, "other")
    with db.session() as session:
        subscribe(session, other.id, feed_id, unread_recent=10)
        reading.set_starred(session, user_id, [ids[0]])
        reading.set_starred(session, other.id, [ids[0]])
        session.commit()
        assert unsubscribe(session, user_id, feed_id)
        session.commit()
        states = set(session.execute(select(ItemState.user_id)).scalars())
        starred = session.execute(select(ItemState.user_id).where(ItemState.starred)).scalars()
        subs = session.execute(select(Subscription.user_id)).scalars().all()
    assert states == {other.id} and list(starred) == [other.id] and subs == [other.id]


def test_unread_counts_agree_with_the_unread_river_for_every_kind_of_read_state(
    db: Database,
) -> None:
    user_id, feed_id, ids = _setup(db, count=12)
    with db.session() as session:
        reading.mark_all_read(session, user_id, upto_id=ids[3])  # watermark by id
        reading.mark_all_read(session, user_id, older_than=BASE + timedelta(hours=6))
        reading.mark_read(session, user_id, [ids[1], ids[5]], read=False)  # under both
        reading.mark_read(session, user_id, [ids[8], ids[10]])  # above both, read one by one
        session.commit()
        page = reading.river_page(session, user_id, Filters(unread_only=True))
    unread = [ids[11], ids[9], ids[7], ids[6], ids[5], ids[1]]
    assert [item.id for item in page.rows] == unread
    assert _unread(db, user_id) == {feed_id: len(unread)}


def test_mark_all_read_without_upto_id_finds_the_newest_item_in_the_same_statement(
    db: Database,
) -> None:
    user_id, feed_id, _ = _setup(db, count=20)
    with db.session() as session:
        statements: list[str] = []
        connection = session.connection()

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(connection, "before_cursor_execute", count)
        reading.mark_all_read(session, user_id, feed_ids=[feed_id])
        event.remove(connection, "before_cursor_execute", count)
        session.commit()
        _items(session, feed_id, 1, start=50)
        session.commit()
    assert len(statements) == 1
    assert _unread(db, user_id) == {feed_id: 1}

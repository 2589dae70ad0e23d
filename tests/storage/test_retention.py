"""Retention's SQL (app/storage/retention.py): which fetches and items go, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from app.storage import retention
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState, Item
from app.storage.reading import set_starred
from app.storage.users import user_by_name
from tests.storage.rows import add_feed, add_fetch, add_follower

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def _fetch_states(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(s.value for s in session.scalars(select(Fetch.state)))


def test_finished_fetches_before_the_cutoff_go_and_the_rest_stay(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session)
        add_fetch(session, feed, FetchState.SUCCEEDED, finished_at=NOW - 8 * DAY)
        add_fetch(session, feed, FetchState.FAILED, finished_at=NOW - 8 * DAY)
        add_fetch(session, feed, FetchState.SUCCEEDED, finished_at=NOW - 6 * DAY)
        add_fetch(session, feed, FetchState.QUEUED, created_at=NOW - 30 * DAY)
        session.commit()
        deleted = retention.delete_old_fetches(session, before=NOW - 7 * DAY, limit=10)
        session.commit()
    assert deleted == 2
    assert _fetch_states(db) == ["queued", "succeeded"]


def test_a_batch_deletes_at_most_its_limit_oldest_first(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session)
        for age in (10, 9, 8):
            add_fetch(session, feed, FetchState.SUCCEEDED, finished_at=NOW - age * DAY)
        session.commit()
        assert retention.delete_old_fetches(session, before=NOW - 7 * DAY, limit=2) == 2
        session.commit()
        left = session.scalars(select(Fetch.finished_at)).all()
    assert [round((NOW - at) / DAY) for at in left] == [8]


def _items(db: Database, feed_id: int, ages_days: list[float]) -> None:
    """Items of the feed dated ``ages_days`` ago (their pages order: newest first)."""
    with db.session() as session:
        session.execute(
            insert(Item),
            [
                {"feed_id": feed_id, "key": f"k{n}", "content_hash": "h",
                 "sort_at": NOW - age * DAY, "title": f"age {age}"}
                for n, age in enumerate(ages_days)
            ],
        )  # fmt: skip
        session.execute(
            text("UPDATE feeds SET item_count = :n WHERE id = :id"),
            {"n": len(ages_days), "id": feed_id},
        )
        session.commit()


@pytest.fixture
def feed_id(db: Database) -> Iterator[int]:
    with db.session() as session:
        feed = add_feed(session)
        session.commit()
        yield feed.id


def _left(db: Database, feed_id: int) -> list[str | None]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Item.title).where(Item.feed_id == feed_id).order_by(Item.sort_at.desc())
            )
        )


def _prune(db: Database, feed_id: int, *, keep: int, limit: int = 100) -> int:
    with db.session() as session:
        deleted = retention.delete_old_items(
            session, feed_id, keep=keep, before=NOW - 90 * DAY, limit=limit
        )
        session.commit()
        return deleted


def test_items_go_only_when_beyond_the_newest_kept_and_older_than_the_age(
    db: Database, feed_id: int
) -> None:
    # Newest first: two recent, then old ones; keep 3.
    _items(db, feed_id, [1, 2, 100, 200, 300])
    assert _prune(db, feed_id, keep=3) == 2
    assert _left(db, feed_id) == ["age 1", "age 2", "age 100"]


def test_young_items_beyond_the_count_stay(db: Database, feed_id: int) -> None:
    _items(db, feed_id, [1, 2, 3, 4, 89])
    assert _prune(db, feed_id, keep=2) == 0
    assert len(_left(db, feed_id)) == 5


def test_a_feed_with_exactly_the_kept_count_loses_nothing(db: Database, feed_id: int) -> None:
    _items(db, feed_id, [100, 200, 300])
    assert _prune(db, feed_id, keep=3) == 0


def test_item_pruning_updates_the_feeds_item_count(db: Database, feed_id: int) -> None:
    _items(db, feed_id, [100, 200, 300, 400])
    assert _prune(db, feed_id, keep=1, limit=2) == 2
    with db.session() as session:
        assert session.get(Feed, feed_id).item_count == 2  # type: ignore[union-attr]
    assert _prune(db, feed_id, keep=1, limit=2) == 1


def test_feeds_with_more_items_than_kept_are_listed_in_id_order(db: Database) -> None:
    with db.session() as session:
        ids = [add_feed(session, f"https://{n}.example/f", item_count=n).id for n in range(5)]
        session.commit()
        assert retention.feeds_with_more_items_than(session, 2, after_id=0, limit=10) == ids[3:]
        assert retention.feeds_with_more_items_than(session, 2, after_id=ids[3], limit=10) == [
            ids[4]
        ]


def test_a_protected_item_condition_keeps_matching_items(
    db: Database, feed_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _items(db, feed_id, [100, 200, 300])
    monkeypatch.setattr(retention, "PROTECTED_ITEM_CONDITIONS", ["i.title = 'age 300'"])
    assert _prune(db, feed_id, keep=1) == 1
    assert _left(db, feed_id) == ["age 100", "age 300"]


def test_the_database_size_and_table_sizes_are_reported(db: Database) -> None:
    with db.session() as session:
        sizes = retention.table_sizes(session)
        assert {"feeds", "items", "fetches"} <= set(sizes)
        assert sizes["items"]["index_bytes"] > 0
        assert retention.database_bytes(session) > 0
        assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_an_item_someone_starred_is_kept_whatever_its_age_and_rank(
    db: Database, feed_id: int
) -> None:
    _items(db, feed_id, [100, 200, 300])
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        add_follower(session, feed)
        user = user_by_name(session, "follower")
        oldest = session.scalar(select(Item.id).where(Item.title == "age 300"))
        assert user is not None and oldest is not None
        assert set_starred(session, user.id, [oldest]) == {oldest}
        session.commit()
    assert _prune(db, feed_id, keep=1) == 1
    assert _left(db, feed_id) == ["age 100", "age 300"]


def _unfollowed_pass(db: Database, *, days: int = 7, limit: int = 10) -> int:
    with db.session() as session:
        deleted = retention.delete_unfollowed_feeds(
            session, before=NOW - days * DAY, limit=limit
        )
        session.commit()
        return deleted


def _feed_urls(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(Feed.url)))


def test_a_feed_nobody_follows_goes_with_its_items_after_the_window(db: Database) -> None:
    with db.session() as session:
        gone = add_feed(session, "https://gone.example/f", created_at=NOW - 30 * DAY,
                        last_fetched_at=NOW - 8 * DAY)  # fmt: skip
        add_fetch(session, gone, FetchState.SUCCEEDED, finished_at=NOW - 8 * DAY)
        session.commit()
        gone_id = gone.id
    _items(db, gone_id, [10, 20])
    assert _unfollowed_pass(db) == 1
    assert _feed_urls(db) == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
        assert session.scalar(select(func.count()).select_from(Fetch)) == 0


def test_a_followed_a_recent_or_a_pending_feed_stays(db: Database) -> None:
    old = NOW - 30 * DAY
    with db.session() as session:
        followed = add_feed(session, "https://followed.example/f", created_at=old)
        add_follower(session, followed)
        add_feed(session, "https://recent.example/f", created_at=old,
                 last_fetched_at=NOW - 1 * DAY)  # fmt: skip
        add_feed(session, "https://new.example/f", created_at=NOW - 1 * DAY)
        pending = add_feed(session, "https://pending.example/f", created_at=old)
        add_fetch(session, pending, FetchState.QUEUED)
        session.commit()
    assert _unfollowed_pass(db) == 0
    assert len(_feed_urls(db)) == 4


def test_unfollowed_feeds_go_a_batch_at_a_time(db: Database) -> None:
    with db.session() as session:
        for n in range(3):
            add_feed(session, f"https://{n}.example/f", created_at=NOW - 30 * DAY)
        session.commit()
    assert _unfollowed_pass(db, limit=2) == 2
    assert _unfollowed_pass(db, limit=2) == 1
    assert _feed_urls(db) == []

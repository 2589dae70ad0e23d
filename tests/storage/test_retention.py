"""Retention's SQL (app/storage/retention.py): which fetches and items go, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from app.storage import retention
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState, Item
from tests.storage.rows import add_feed, add_fetch

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

"""Retention passes (app/workers/retention.py): paced batches that resume where they stopped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text

from app.config import Settings
from app.storage.db import Database
from app.storage.models import Fetch, FetchState, FetchTrigger, Item
from app.workers.retention import Pruner, prune_some
from tests.storage.rows import add_feed

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def _old_rows(db: Database, *, feeds: int, items_each: int, fetches: int) -> None:
    with db.session() as session:
        ids = [add_feed(session, f"https://{n}.example/f", item_count=items_each).id
               for n in range(feeds)]  # fmt: skip
        session.execute(
            insert(Item),
            [{"feed_id": feed, "key": f"k{n}", "content_hash": "h",
              "sort_at": NOW - (100 + n) * DAY}
             for feed in ids for n in range(items_each)],
        )  # fmt: skip
        if fetches:
            session.execute(
                insert(Fetch),
                [{"feed_id": ids[0], "trigger": FetchTrigger.REFRESH,
                  "state": FetchState.SUCCEEDED, "finished_at": NOW - 30 * DAY}
                 for _ in range(fetches)],
            )  # fmt: skip
        session.commit()


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _small(settings: Settings) -> Settings:
    return replace(
        settings, fetch_max_items=2, retention_items_per_feed=2, retention_batch_size=3
    )


def test_a_pass_to_the_end_leaves_the_kept_items_of_each_feed_and_no_old_fetch(
    settings: Settings, db: Database
) -> None:
    _old_rows(db, feeds=3, items_each=7, fetches=8)
    done = Pruner(db, _small(settings)).run(max_batches=None)
    assert (done.fetches, done.items, done.more) == (8, 15, False)
    assert _count(db, Item) == 6 and _count(db, Fetch) == 0


def test_a_tick_stops_at_its_batch_budget_and_the_next_goes_on(
    settings: Settings, db: Database
) -> None:
    _old_rows(db, feeds=2, items_each=8, fetches=4)
    pruner = Pruner(db, _small(settings))
    # Two batches of fetches (3 + 1), one of unfollowed feeds (none yet), one of items.
    first = pruner.run(max_batches=4)
    assert (first.fetches, first.items, first.more) == (4, 3, True)
    rest = pruner.run(max_batches=None)
    assert rest.items == 9 and not rest.more
    assert _count(db, Item) == 4


def test_a_pass_that_meets_a_locked_row_gives_up_for_this_tick(
    settings: Settings, db: Database
) -> None:
    _old_rows(db, feeds=1, items_each=5, fetches=0)
    holder = db.engine.connect()
    transaction = holder.begin()
    holder.execute(text("SELECT id FROM items FOR UPDATE"))  # a writer holds every item
    try:
        assert prune_some(Pruner(db, _small(settings))) is False
    finally:
        transaction.rollback()
        holder.close()
    assert _count(db, Item) == 5
    assert Pruner(db, _small(settings)).run(max_batches=None).items == 3

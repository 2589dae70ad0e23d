"""Retention passes (app/workers/retention.py): paced batches that resume where they stopped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from redis import Redis
from sqlalchemy import func, insert, select, text

from app.config import Settings
from app.context import JobContext
from app.storage.db import Database
from app.storage.models import Fetch, FetchState, FetchTrigger, Item
from app.workers import housekeeping
from app.workers.housekeeping import Housekeeper
from app.workers.retention import Pruner, prune_some, take_turn
from tests.storage.rows import add_feed

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def _old_rows(
    db: Database, *, feeds: int, items_each: int, fetches: int, first: int = 0
) -> None:
    with db.session() as session:
        ids = [add_feed(session, f"https://{n}.example/f", item_count=items_each).id
               for n in range(first, first + feeds)]  # fmt: skip
        if items_each:
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


def test_one_dyno_of_a_formation_prunes_per_retention_interval_and_another_after_it(
    job_context_with: Callable[..., JobContext],
    db: Database,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(housekeeping, "time", SimpleNamespace(monotonic=lambda: clock.now))
    first = Housekeeper(job_context_with(retention_every=60.0, dyno="worker.1"))
    second = Housekeeper(job_context_with(retention_every=60.0, dyno="worker.2"))
    turn = f"{first.ctx.settings.queue_prefix}:retention:turn"
    _old_rows(db, feeds=1, items_each=0, fetches=4)
    first()
    assert _count(db, Fetch) == 0
    assert redis.get(turn) == b"worker.1" and 0 < redis.pttl(turn) <= 60_000

    _old_rows(db, feeds=1, items_each=0, fetches=4, first=1)
    second()  # the first dyno's turn still holds: no second scan of the tables
    assert _count(db, Fetch) == 4
    clock.now += 60.0
    redis.delete(turn)  # 60 s on, the key has expired
    second()
    assert _count(db, Fetch) == 0


def test_a_dyno_finishes_the_pass_it_started_whoever_holds_the_turn_now(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis
) -> None:
    ctx = job_context_with(retention_batch_size=2, dyno="worker.1")
    keeper = Housekeeper(ctx)
    _old_rows(db, feeds=1, items_each=0, fetches=50)  # 25 batches: more than one tick's 20
    keeper()
    assert _count(db, Fetch) == 10
    redis.set(f"{ctx.settings.queue_prefix}:retention:turn", "worker.2")  # turn passed on
    keeper()
    assert _count(db, Fetch) == 0


def test_without_redis_every_dyno_prunes_as_if_alone() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    assert take_turn(unreachable, "any", holder="worker.1", seconds=300) is True

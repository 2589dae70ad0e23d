"""Retention passes: keep Postgres' size flat by deleting old fetches, old items
and feeds nobody follows.

Run by the worker dynos' housekeeping (one pass every RETENTION_EVERY_SECONDS for
the whole formation: :func:`take_turn`) and by ``python -m app.manage prune-now``.
The SQL, one short transaction per batch, is in app.storage.retention; this module
decides what to delete and paces it. Two dynos pruning at once is harmless (they skip
or wait on each other's rows), only wasteful: two of the searches read the whole feeds
table when nothing matches, which at millions of feeds costs seconds per dyno.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import Settings
from app.storage import retention
from app.storage.db import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Transactions one housekeeping tick may spend; more work waits for the next tick.
BATCHES_PER_TICK = 20
#: Feeds looked at per query when looking for feeds with too many items.
FEEDS_PER_PAGE = 200


@dataclass
class Pruned:
    """What a pass deleted, and whether it stopped before the end."""

    fetches: int = 0
    items: int = 0
    feeds: int = 0
    more: bool = False


@dataclass
class Pruner:
    """Deletes what retention allows, a batch per transaction, resuming where it stopped."""

    db: Database
    settings: Settings
    #: The feed the item pass got to: the next pass goes on from there.
    _after_feed: int = 0
    _feeds: list[int] = field(default_factory=list)

    def run(
        self, max_batches: int | None = BATCHES_PER_TICK, *, now: datetime | None = None
    ) -> Pruned:
        """Delete up to ``max_batches`` batches (None: until nothing is left).

        ``now`` moves the clock the windows count from (a simulation of months of
        refreshes, bench/storage.py); by default, the time now.
        """
        done = Pruned()
        budget = max_batches if max_batches is not None else -1
        now = now or datetime.now(UTC)
        size = self.settings.retention_batch_size
        fetch_cutoff = now - timedelta(days=self.settings.retention_fetch_days)
        while budget != 0:
            deleted = self._batch(lambda s: retention.delete_old_fetches(
                s, before=fetch_cutoff, limit=size
            ))
            done.fetches += deleted
            budget -= 1
            if deleted < size:
                break
        feed_cutoff = now - timedelta(days=self.settings.retention_unfollowed_days)
        while budget != 0:
            # Few rows, but each takes its items and fetches along: a tenth of a batch.
            deleted = self._batch(lambda s: retention.delete_unfollowed_feeds(
                s, before=feed_cutoff, limit=max(1, size // 10)
            ))
            done.feeds += deleted
            budget -= 1
            if deleted < max(1, size // 10):
                break
        item_cutoff = now - timedelta(days=self.settings.retention_item_days)
        keep = self.settings.retention_items_per_feed
        while budget != 0:
            if not self._feeds:
                self._feeds = self._batch(
                    lambda s: retention.feeds_with_more_items_than(
                        s, keep, after_id=self._after_feed, limit=FEEDS_PER_PAGE
                    )
                )
                if not self._feeds:
                    self._after_feed = 0  # the next pass starts again from the first feed
                    return done
            feed_id = self._feeds[0]
            deleted = self._batch(lambda s, feed=feed_id: retention.delete_old_items(
                s, feed, keep=keep, before=item_cutoff, limit=size
            ))
            done.items += deleted
            budget -= 1
            if deleted < size:  # this feed is done
                self._feeds.pop(0)
                self._after_feed = feed_id
        done.more = True
        return done

    def _batch(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction of its own, committed at once."""
        with self.db.session() as session:
            result = work(session)
            session.commit()
            return result


def prune_some(pruner: Pruner) -> bool:
    """One housekeeping tick of retention; True when there is more to delete."""
    try:
        done = pruner.run()
    except DBAPIError as exc:
        # A lock or statement timeout, or Postgres away: the next tick tries again.
        log.warning("retention: pass stopped: %s", exc.orig)
        return False
    if done.fetches or done.items or done.feeds:
        log.info("retention: deleted fetches=%d items=%d feeds=%d more=%s",
                 done.fetches, done.items, done.feeds, done.more)
    return done.more


def take_turn(redis: Redis, key: str, *, holder: str, seconds: float) -> bool:
    """Whether this dyno starts the formation's next retention pass: True for the first
    dyno to ask in each ``seconds``, False for the others until then.

    A Redis key set only when absent and kept ``seconds`` is the turn: a dyno that dies
    mid-pass leaves it to expire, and the next pass starts from the beginning. Without
    Redis every dyno prunes, as if alone: harmless, only more reads.
    """
    try:
        return bool(redis.set(key, holder, nx=True, px=max(1, int(seconds * 1000))))
    except RedisError:
        log.warning("retention: Redis unavailable; pruning without taking a turn")
        return True

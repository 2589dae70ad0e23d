"""Retention: deleting what no one needs any more, a small batch per transaction.

Every function here is one short transaction's worth of work (the caller commits
after each): at most ``limit`` rows, under a lock timeout, so the web, which only
reads these rows or inserts new ones, is never held up, and vacuum can reuse the
space as it goes. What is deleted:

- finished fetch rows older than a window (the status page charts the last day;
  a pending fetch is never deleted);
- items beyond a feed's newest ``keep`` AND older than an age, unless a
  condition of :data:`PROTECTED_ITEM_CONDITIONS` holds for them (someone starred it);
- feeds nobody has followed for a while, with their items and fetches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

#: Items that are never pruned, whatever their age or rank: each entry is a SQL
#: condition on the item ``i`` (a row of ``items``). A feature that must keep
#: items adds one line here.
PROTECTED_ITEM_CONDITIONS: list[str] = [
    # Starred by anyone (ix_item_states_starred answers it).
    "EXISTS (SELECT 1 FROM item_states s WHERE s.item_id = i.id AND s.starred)",
]

#: Longest wait for a row lock: a row the app is writing is left to the next pass.
LOCK_TIMEOUT = "2s"
#: Longest statement: one batch is small, so this only stops a pathological plan.
STATEMENT_TIMEOUT = "30s"


def _bounded(session: Session) -> None:
    """Keep this transaction's waits and statements short (SET LOCAL: this transaction only)."""
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))


def delete_old_fetches(session: Session, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` finished fetches that finished before ``before``; how many."""
    _bounded(session)
    result = session.execute(
        text(
            """
            DELETE FROM fetches WHERE id IN (
                SELECT id FROM fetches
                WHERE finished_at < :before AND state IN ('succeeded', 'failed')
                ORDER BY finished_at
                LIMIT :limit
                FOR UPDATE SKIP LOCKED
            )
            """
        ),
        {"before": before, "limit": limit},
    )
    return result.rowcount or 0


def delete_unfollowed_feeds(session: Session, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` feeds that nobody follows, with no pending fetch, and
    neither added nor fetched since ``before``; their items and fetches go with them
    (ON DELETE CASCADE). How many.

    A submission locks its feed row (app.storage.submissions.store_submission) as it
    subscribes, and SKIP LOCKED passes such a row by: a feed someone is subscribing
    to right now is never deleted under them.
    """
    _bounded(session)
    result = session.execute(
        text(
            """
            DELETE FROM feeds WHERE id IN (
                SELECT f.id FROM feeds f
                WHERE greatest(f.created_at, coalesce(f.last_fetched_at, f.created_at)) < :before
                  AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)
                  AND NOT EXISTS (
                      SELECT 1 FROM fetches p
                      WHERE p.feed_id = f.id AND p.state IN ('queued', 'running')
                  )
                ORDER BY f.id
                LIMIT :limit
                FOR UPDATE SKIP LOCKED
            )
            """
        ),
        {"before": before, "limit": limit},
    )
    return result.rowcount or 0


def feeds_with_more_items_than(
    session: Session, keep: int, *, after_id: int, limit: int
) -> list[int]:
    """Ids of feeds holding more than ``keep`` items, in id order from ``after_id``."""
    rows = session.execute(
        text(
            "SELECT id FROM feeds WHERE item_count > :keep AND id > :after "
            "ORDER BY id LIMIT :limit"
        ),
        {"keep": keep, "after": after_id, "limit": limit},
    )
    return [row[0] for row in rows]


def _not_protected() -> str:
    return "".join(f" AND NOT ({condition})" for condition in PROTECTED_ITEM_CONDITIONS)


def delete_old_items(
    session: Session, feed_id: int, *, keep: int, before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` of the feed's items that are beyond its newest ``keep``
    (in the order pages show them) and dated before ``before``, unless protected.

    The feed's ``item_count`` is brought up to date in the same transaction.
    """
    _bounded(session)
    result = session.execute(
        text(
            f"""
            DELETE FROM items WHERE id IN (
                SELECT i.id FROM (
                    SELECT id, sort_at FROM items
                    WHERE feed_id = :feed
                    ORDER BY sort_at DESC, id DESC
                    OFFSET :keep
                ) AS beyond
                JOIN items AS i ON i.id = beyond.id
                WHERE beyond.sort_at < :before{_not_protected()}
                LIMIT :limit
            )
            """
        ),
        {"feed": feed_id, "keep": keep, "before": before, "limit": limit},
    )
    deleted = result.rowcount or 0
    if deleted:
        session.execute(
            text(
                "UPDATE feeds SET item_count = "
                "(SELECT count(*) FROM items WHERE items.feed_id = feeds.id) WHERE id = :feed"
            ),
            {"feed": feed_id},
        )
    return deleted


def table_sizes(session: Session) -> dict[str, dict[str, int]]:
    """Rows (estimated by Postgres' statistics) and bytes (table, indexes, TOAST) per table."""
    rows = session.execute(
        text(
            """
            SELECT c.relname, greatest(c.reltuples, 0)::bigint,
                   pg_table_size(c.oid), pg_indexes_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
            ORDER BY c.relname
            """
        )
    )
    return {
        name: {"rows": rows_, "table_bytes": table, "index_bytes": index}
        for name, rows_, table, index in rows
    }


def database_bytes(session: Session) -> int:
    """The whole database's size on disk, as Heroku counts it against the plan."""
    return int(session.execute(text("SELECT pg_database_size(current_database())")).scalar_one())

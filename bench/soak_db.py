"""bench.soak's own connection to the app's database: its clock, VACUUM, the figures."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg2

#: RETENTION_FETCH_DAYS' default: the window the bench's clock ages fetch rows past.
FETCH_DAYS = 2


class AdminConnection:
    """The bench's own (superuser) connection to the app's database: the clock, VACUUM
    and the figures. Outside the role's connection limit, as `heroku pg:psql` would be."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        #: Fetches finished before this moment (Postgres' clock) have been counted.
        self.since = datetime(1970, 1, 1, tzinfo=UTC)
        self.done = 0
        self.failed = 0

    def age_fetch_rows(self, speedup: float) -> int:
        """Move fetch rows that finished more than FETCH_DAYS / speedup ago back FETCH_DAYS."""
        with self.conn.cursor() as cur:
            cur.execute(
                """
                UPDATE fetches SET finished_at = finished_at - make_interval(days => %(days)s)
                WHERE state IN ('succeeded', 'failed')
                  AND finished_at < now() - %(aged)s * interval '1 second'
                  AND finished_at > now() - interval '1 day'
                """,
                {"days": FETCH_DAYS, "aged": FETCH_DAYS * 86400 / speedup},
            )
            return cur.rowcount

    def vacuum(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute("VACUUM")

    def figures(self) -> dict[str, int]:
        """Database size, rows, and fetches done so far.

        Retention deletes fetch rows (and ids are UUIDs), so fetches done are counted
        as they finish: each call adds those that finished since the last call's
        ``now()``. Rows the clock moved back are long past that window.
        """
        with self.conn.cursor() as cur:
            cur.execute(
                """
                SELECT now(), pg_database_size(current_database()),
                       (SELECT count(*) FROM items), (SELECT count(*) FROM feeds),
                       (SELECT count(*) FROM fetches),
                       (SELECT count(*) FROM fetches WHERE state IN ('queued', 'running')),
                       (SELECT count(*) FROM fetches
                        WHERE finished_at >= %(since)s AND finished_at < now()),
                       (SELECT count(*) FROM fetches WHERE state = 'failed'
                        AND finished_at >= %(since)s AND finished_at < now())
                """,
                {"since": self.since},
            )
            row = cur.fetchone()
        assert row is not None
        self.since, size, items, feeds, fetch_rows, pending, done, failed = row
        self.done += done
        self.failed += failed
        return {
            "db_bytes": size,
            "items": items,
            "feeds": feeds,
            "fetch_rows": fetch_rows,
            "fetches_done": self.done,
            "fetches_pending": pending,
            "fetches_failed": self.failed,
        }

    def close(self) -> None:
        self.conn.close()

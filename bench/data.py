"""Seeding and reading the bench database: feeds to refresh, fetches to run, outcomes."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.accounts import subscribe_all
from bench.stack import Services


def seed_due_feeds(
    services: Services, base: str, first: int, count: int, *, etag: bool, hosts: int = 0
) -> None:
    """Insert ``count`` active feeds ``base<n>.xml`` due for refresh an hour ago, each
    followed by the bench user (the scheduler refreshes only feeds someone follows).

    With ``etag`` the feeds carry the validators the feed server gives version 0
    of feed n (ETag ``"n-0"``), so an unchanged feed answers 304. With ``hosts`` the
    feeds are spread over that many loopback hosts instead (``bench.stack.feed_url``:
    feed n on 127.1.x.y with x.y = n % hosts + 1), on ``base``'s port.

    Each feed's icon was looked for an hour ago and none was found, as after the first
    fetch of a feed the feed server serves: a refreshed feed's icon search is due once
    every FEED_ICON_REFRESH_DAYS (a day after one found nothing), not at every refresh.
    """
    port = base.split(":")[2].split("/")[0]
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            WITH numbers AS (
                SELECT n, CASE WHEN %(hosts)s > 0
                    THEN 'http://127.1.' || ((n %% %(hosts)s + 1) / 256) || '.'
                         || ((n %% %(hosts)s + 1) %% 256) || ':' || %(port)s || '/feed/'
                    ELSE %(base)s END AS prefix
                FROM generate_series(%(first)s, %(last)s) AS n
            ), feeds AS (
                INSERT INTO feeds (url, current_url, state, etag, next_fetch_at, refresh_interval)
                SELECT prefix || n || '.xml', prefix || n || '.xml', 'active',
                       CASE WHEN %(etag)s THEN '"' || n || '-0"' END,
                       now() - interval '1 hour' + n * interval '1 microsecond', 1800
                FROM numbers
                RETURNING id
            )
            INSERT INTO feed_icons (feed_id, fetched_at, error)
            SELECT id, now() - interval '1 hour', %(no_icon)s FROM feeds
            """,
            {
                "base": base,
                "first": first,
                "last": first + count - 1,
                "etag": etag,
                "hosts": max(0, hosts),
                "port": port,
                "no_icon": "No icon was found (seeded by the bench).",
            },
        )
        subscribe_all(cur, services.user.user_id)
    conn.close()


def submit_feeds(
    services: Services,
    base: str,
    first: int,
    count: int,
    *,
    hosts: int = 0,
    queue_max_jobs: int | None = None,
) -> None:
    """Submit feeds through the app's own submit path (feed row, the bench user's
    subscription, fetch row, RQ job), as ``POST /feeds`` by the bench user does.
    With ``hosts`` feed n is on loopback host n % hosts (``bench.stack.feed_url``).
    ``queue_max_jobs`` raises QUEUE_MAX_JOBS for this seeding only (a backlog larger than
    the default bound, which would refuse the rest with QueueFull)."""
    from app.config import Settings
    from app.queue.connection import redis_from_url
    from app.queue.queues import Queues
    from app.services.submissions import Subscriber, submit_url
    from app.storage.db import Database
    from bench.stack import app_env, feed_url

    extra = {} if queue_max_jobs is None else {"QUEUE_MAX_JOBS": queue_max_jobs}
    settings = Settings.from_env(app_env(services, **extra))
    db = Database(settings.database_url or "")
    queues = Queues(redis_from_url(settings.redis_url or ""), settings)
    subscriber = Subscriber.of(services.user.user_id, settings)
    with db.session() as session:
        for n in range(first, first + count):
            url = feed_url(n, hosts) if hosts > 0 else f"{base}{n}.xml"
            submit_url(session, queues, url, subscriber)
    db.dispose()


@dataclass
class Outcome:
    finished: int
    succeeded: int
    failed: int
    not_modified: int
    pending: int
    first_started: float | None
    last_finished: float | None


def outcome(services: Services) -> Outcome:
    """Counts of fetches by state, and the span from first start to last finish."""
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT count(*) FILTER (WHERE state IN ('succeeded', 'failed')),
                   count(*) FILTER (WHERE state = 'succeeded'),
                   count(*) FILTER (WHERE state = 'failed'),
                   count(*) FILTER (WHERE not_modified),
                   count(*) FILTER (WHERE state IN ('queued', 'running')),
                   extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at))
            FROM fetches
            """
        )
        row = cur.fetchone()
    conn.close()
    assert row is not None
    return Outcome(
        *(int(x) for x in row[:5]),
        float(row[5]) if row[5] is not None else None,
        float(row[6]) if row[6] is not None else None,
    )


def finished_between(services: Services, start: float, end: float) -> int:
    """Fetches finished in the wall-clock window [start, end) (epoch seconds)."""
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM fetches WHERE finished_at >= to_timestamp(%s)"
            " AND finished_at < to_timestamp(%s)",
            (start, end),
        )
        row = cur.fetchone()
    conn.close()
    return int(row[0]) if row else 0


def wait_all_finished(services: Services, expected: int, timeout: float) -> Outcome:
    """Poll until ``expected`` fetches have finished (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    result = outcome(services)
    while result.finished < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        result = outcome(services)
    return result


def fetch_paths(services: Services, limit: int) -> list[str]:
    """``/fetches/<id>`` paths of existing fetches, for the read-throughput scenario."""
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM fetches ORDER BY created_at LIMIT %s", (limit,))
        rows = cur.fetchall()
    conn.close()
    return [f"/fetches/{r[0]}" for r in rows]


def creation_to_finish_ms(services: Services) -> list[float]:
    """finished_at - created_at of every succeeded fetch, in milliseconds."""
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM finished_at - created_at) * 1000 FROM fetches"
            " WHERE state = 'succeeded' ORDER BY created_at"
        )
        rows = cur.fetchall()
    conn.close()
    return [float(r[0]) for r in rows]

"""Postgres storage: bytes per feed, subscription, item and fetch row; a long run with retention.

``python -m bench.storage`` works in a database of its own (``feedqueue_bench_storage``
on the server at ``--admin-url``, dropped and created again, migrated to head):

1. **Bytes per row**, table + TOAST + indexes, measured as the growth of
   ``pg_table_size + pg_indexes_size`` over many rows written the app's way: feeds
   with every field a refreshed feed has, each followed by the bench user (one
   subscription row per feed and follower: the scheduler refreshes only followed
   feeds); items stored by app.storage.items.store_items from ``--item-bytes`` of
   text in summary and content (random words, so TOAST compresses them as it would
   prose, not as a repeated filler); finished refresh fetches as the scheduler and a
   job leave them.
2. **Feeds in 1 GB** (Heroku Postgres essential-0): per feed, its row, one
   subscription, the items it keeps and ``RETENTION_FETCH_DAYS`` × 48 fetch rows (one
   refresh every 30 minutes, REFRESH_DEFAULT_SECONDS); printed for several numbers of
   items kept.
3. **A long run**: ``--feeds`` feeds each get ``--items-per-day`` new items and 48
   finished fetches per simulated day for ``--days`` days, the retention pass
   (app.workers.retention.Pruner, with the default settings) runs at the end of each
   day with the clock at that day, then a plain ``VACUUM`` (what autovacuum does
   between passes in a real deployment). The database size is printed every
   ``--every`` days: it stops growing once retention deletes as much as arrives.

Prints JSON (the machine included). Run benchmarks only under
``flock /tmp/feedqueue-bench.lock``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg2
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from app.config import Settings
from app.storage import retention
from app.storage.db import Database
from app.storage.items import store_items
from app.workers.retention import Pruner
from bench.accounts import create_account

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "feedqueue_bench_storage"
GB = 10**9  # Heroku's plans count decimal gigabytes
REFRESHES_PER_DAY = 24 * 3600 // 1800  # REFRESH_DEFAULT_SECONDS


@dataclass
class Item:
    """What store_items needs of an item (app.storage.items.ItemData)."""

    key: str
    guid: str | None
    url: str | None
    title: str | None
    author: str | None
    summary_html: str | None
    content_html: str | None
    published_at: datetime | None
    updated_at: datetime | None
    content_hash: str


class Words:
    """Prose-like text: random words from a fixed vocabulary (compresses like prose)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        self.vocabulary = [
            "".join(self.rng.choice(letters[: 8 + n % 18]) for _ in range(2 + n % 9))
            for n in range(3000)
        ]

    def text(self, size: int) -> str:
        out: list[str] = []
        length = 0
        while length < size:
            word = self.rng.choice(self.vocabulary)
            out.append(word)
            length += len(word) + 1
        return " ".join(out)[:size]


def _items(words: Words, feed: int, first: int, count: int, size: int, at: datetime) -> list[Item]:
    items = []
    for n in range(first, first + count):
        key = f"https://blog{feed}.example.com/{at:%Y/%m}/post-{n}"
        summary = f"<p>{words.text(size // 4)}</p>"
        content = f"<p>{words.text(size - size // 4)}</p>"
        items.append(
            Item(
                key=key, guid=key, url=key, title=words.text(60), author="A. Writer",
                summary_html=summary, content_html=content,
                published_at=at - timedelta(minutes=n % 1440), updated_at=None,
                content_hash=hashlib.sha256((key + content).encode()).hexdigest(),
            )
        )  # fmt: skip
    return items


def _recreate(admin_url: str) -> str:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        cur.execute(f'CREATE DATABASE "{DB_NAME}"')
    conn.close()
    url = admin_url.rsplit("/", 1)[0] + "/" + DB_NAME
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    return url


def _bytes(db: Database, table: str) -> int:
    with db.session() as session:
        return int(
            session.execute(
                text("SELECT pg_table_size(:t) + pg_indexes_size(:t)"), {"t": table}
            ).scalar_one()
        )


def _insert_feeds(db: Database, first: int, count: int, at: datetime, user_id: int) -> list[int]:
    """Feeds as a refresh leaves them, each followed by ``user_id``."""
    with db.session() as session:
        rows = session.execute(
            text(
                """
                INSERT INTO feeds (url, current_url, title, site_url, etag, last_modified,
                    content_hash, state, item_count, refresh_interval, last_fetched_at,
                    last_success_at, next_fetch_at, created_at)
                SELECT 'https://blog' || n || '.example.com/feed.xml',
                       'https://blog' || n || '.example.com/feed.xml',
                       'The blog number ' || n || ' of the example network',
                       'https://blog' || n || '.example.com/',
                       '"' || md5(n::text) || '"', 'Mon, 30 Nov 2026 12:00:00 GMT',
                       encode(sha256(n::text::bytea), 'hex'), 'active', 0, 1800,
                       :at, :at, :at + interval '30 minutes', :at
                FROM generate_series(:first, :last) AS n
                RETURNING id
                """
            ),
            {"first": first, "last": first + count - 1, "at": at},
        )
        ids = [row[0] for row in rows]
        session.execute(
            text(
                "INSERT INTO subscriptions (user_id, feed_id)"
                " SELECT :user, f FROM unnest(CAST(:feeds AS bigint[])) AS f"
            ),
            {"user": user_id, "feeds": ids},
        )
        session.commit()
    return ids


def _insert_fetches(db: Database, feed_ids: list[int], per_feed: int, day: datetime) -> None:
    """``per_feed`` finished refreshes of each feed, spread over the day starting at ``day``."""
    with db.session() as session:
        session.execute(
            text(
                """
                INSERT INTO fetches (id, feed_id, trigger, state, attempts, created_at,
                    enqueued_at, scheduled_for, started_at, finished_at, http_status,
                    items_new, items_updated, not_modified, job_id)
                SELECT gen_random_uuid(), f, 'refresh', 'succeeded', 1, t, t, t,
                       t + interval '1 second', t + interval '2 seconds',
                       CASE WHEN k % 4 = 0 THEN 200 ELSE 304 END,
                       CASE WHEN k % 4 = 0 THEN 1 ELSE 0 END, 0, k % 4 <> 0,
                       gen_random_uuid()
                FROM unnest(CAST(:feeds AS bigint[])) AS f,
                     generate_series(0, :n - 1) AS k,
                     LATERAL (SELECT :day + k * (interval '1 day' / :n)) AS at(t)
                """
            ),
            {"feeds": feed_ids, "n": per_feed, "day": day},
        )
        session.commit()


def per_row_bytes(db: Database, item_bytes: int, user_id: int) -> dict[str, float]:
    """Average bytes (table, TOAST and indexes) per feed, subscription, item and fetch row."""
    words = Words()
    now = datetime.now(UTC)
    feeds_before = _bytes(db, "feeds")
    subscriptions_before = _bytes(db, "subscriptions")
    feed_ids = _insert_feeds(db, 1, 5000, now, user_id)
    feed = (_bytes(db, "feeds") - feeds_before) / len(feed_ids)
    subscription = (_bytes(db, "subscriptions") - subscriptions_before) / len(feed_ids)

    items_before = _bytes(db, "items")
    stored = 0
    for feed_id in feed_ids[:400]:
        with db.session() as session:
            stored += store_items(
                session, feed_id, _items(words, feed_id, 0, 50, item_bytes, now)
            ).new
            session.commit()
    item = (_bytes(db, "items") - items_before) / stored

    fetches_before = _bytes(db, "fetches")
    _insert_fetches(db, feed_ids[:1000], REFRESHES_PER_DAY, now - timedelta(days=1))
    fetch = (_bytes(db, "fetches") - fetches_before) / (1000 * REFRESHES_PER_DAY)
    return {
        "feed": round(feed, 1),
        "subscription": round(subscription, 1),
        "item": round(item, 1),
        "fetch": round(fetch, 1),
    }


def feeds_in(plan_bytes: int, rows: dict[str, float], settings: Settings) -> dict[str, int]:
    """Feeds that fit in ``plan_bytes`` for several numbers of items kept per feed, each
    with one follower (every further follower adds a subscription row)."""
    fetches = settings.retention_fetch_days * REFRESHES_PER_DAY * rows["fetch"]
    result = {}
    for kept in (20, 100, settings.retention_items_per_feed):
        per_feed = rows["feed"] + rows["subscription"] + kept * rows["item"] + fetches
        result[f"{kept}_items_each"] = int(plan_bytes // per_feed)
    result["fetch_bytes_per_feed"] = int(fetches)
    return result


def long_run(
    db: Database, settings: Settings, *, feeds: int, days: int, per_day: int, item_bytes: int,
    every: int, user_id: int,
) -> list[dict[str, object]]:  # fmt: skip
    """Simulated days of refreshes with retention at the end of each; sizes every ``every``."""
    words = Words(11)
    start = datetime.now(UTC) - timedelta(days=days)
    feed_ids = _insert_feeds(db, 100_000, feeds, start, user_id)
    pruner = Pruner(db, settings)
    samples: list[dict[str, object]] = []
    for day in range(days):
        at = start + timedelta(days=day)
        for feed_id in feed_ids:
            with db.session() as session:
                store_items(
                    session, feed_id, _items(words, feed_id, day * per_day, per_day, item_bytes, at)
                )
                session.execute(
                    text(
                        "UPDATE feeds SET item_count = "
                        "(SELECT count(*) FROM items WHERE feed_id = :f) WHERE id = :f"
                    ),
                    {"f": feed_id},
                )
                session.commit()
        _insert_fetches(db, feed_ids, REFRESHES_PER_DAY, at)
        done = pruner.run(max_batches=None, now=at + timedelta(days=1))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM items, fetches, feeds"))
        if (day + 1) % every == 0 or day == days - 1:
            with db.session() as session:
                sizes = retention.table_sizes(session)
                samples.append({
                    "day": day + 1,
                    "database_mb": round(retention.database_bytes(session) / 1e6, 1),
                    "items": session.execute(text("SELECT count(*) FROM items")).scalar_one(),
                    "fetches": session.execute(text("SELECT count(*) FROM fetches")).scalar_one(),
                    "items_mb": round((sizes["items"]["table_bytes"]
                                       + sizes["items"]["index_bytes"]) / 1e6, 1),
                    "fetches_mb": round((sizes["fetches"]["table_bytes"]
                                         + sizes["fetches"]["index_bytes"]) / 1e6, 1),
                    "deleted_that_day": {"items": done.items, "fetches": done.fetches},
                })  # fmt: skip
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
    return samples


def _machine(db: Database) -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with db.session() as session:
        version = str(session.execute(text("SELECT version()")).scalar_one()).split(" on ")[0]
    return {
        "cpu": cpu, "cores": psutil.cpu_count(logical=True),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(), "python": platform.python_version(), "postgres": version,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--item-bytes", type=int, default=2000, help="text per item")
    parser.add_argument("--feeds", type=int, default=100, help="feeds in the long run")
    parser.add_argument("--days", type=int, default=150, help="simulated days")
    parser.add_argument("--items-per-day", type=int, default=10, help="new items per feed a day")
    parser.add_argument("--every", type=int, default=10, help="days between two size lines")
    args = parser.parse_args()

    url = _recreate(args.admin_url)
    settings = Settings(env="test", database_url="postgresql+psycopg2" + url[len("postgresql"):],
                        redis_url="redis://unused")  # fmt: skip
    db = Database(settings.database_url or "", pool_size=2)
    account = create_account(url)
    with db.session() as session:
        empty = retention.database_bytes(session)
    rows = per_row_bytes(db, args.item_bytes, account.user_id)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("TRUNCATE feeds, items, fetches CASCADE"))
    samples = long_run(
        db, settings, feeds=args.feeds, days=args.days, per_day=args.items_per_day,
        item_bytes=args.item_bytes, every=args.every, user_id=account.user_id,
    )  # fmt: skip
    print(json.dumps({
        "machine": _machine(db),
        "command": "python -m bench.storage " + " ".join(sys.argv[1:]),
        "item_text_bytes": args.item_bytes,
        "bytes_per_row": rows,
        "empty_database_bytes": empty,
        "retention": {
            "fetch_days": settings.retention_fetch_days,
            "items_per_feed": settings.retention_items_per_feed,
            "item_days": settings.retention_item_days,
        },
        "feeds_in_1_gb": feeds_in(GB - empty, rows, settings),
        "long_run": {"feeds": args.feeds, "items_per_feed_per_day": args.items_per_day,
                     "fetches_per_feed_per_day": REFRESHES_PER_DAY, "samples": samples},
    }, indent=2))  # fmt: skip
    db.dispose()


if __name__ == "__main__":
    main()

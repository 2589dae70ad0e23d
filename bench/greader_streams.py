"""Google Reader API streams: a page from each feed's newest items, or one scan.

``python -m bench.greader_streams`` works in a database of its own
(``feedqueue_bench_greader`` on the server at ``--admin-url``, dropped and created
again, migrated to head): one person follows ``--feeds`` feeds of ``--items`` items
each (``--item-bytes`` of HTML), then app.storage.streams.stream_page reads the first
page of their reading list, unread only (``xt=read``), for several page sizes, both
ways it can: each subscription's newest items merged (what the river does), and one
scan of the person's items. Lists of ids (no HTML) and pages with contents are timed
apart. Prints JSON: the machine and load average, the best of ``--runs`` per case.

This chose app.storage.streams.LATERAL_MAX. Run only under
``flock /tmp/feedqueue-bench.lock``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import psutil
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from app.config import normalize_database_url
from app.storage import streams
from app.storage.db import Database
from app.storage.streams import StreamQuery
from bench.accounts import create_account
from bench.stack import _recreate_database

DB_NAME = "feedqueue_bench_greader"
ROOT = Path(__file__).resolve().parent.parent


def _recreate(admin_url: str) -> str:
    """The bench database, new and migrated to head; its URL."""
    _recreate_database(admin_url, DB_NAME)
    url = admin_url.rsplit("/", 1)[0] + "/" + DB_NAME
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    return url


def _fill(db: Database, user_id: int, feeds: int, items: int, item_bytes: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO feeds (url, current_url, state) "
                "SELECT 'https://f' || g || '.example/feed', 'https://f' || g || '.example/feed', "
                "'active' FROM generate_series(1, :feeds) g"
            ),
            {"feeds": feeds},
        )
        conn.execute(
            text(
                "INSERT INTO items (feed_id, key, content_hash, title, content_html, sort_at) "
                "SELECT f.id, 'k' || g, 'h', 'item ' || g, repeat('x', :size), "
                "timestamptz '2026-01-01' + g * interval '1 hour' + f.id * interval '1 minute' "
                "FROM feeds f, generate_series(1, :items) g"
            ),
            {"items": items, "size": item_bytes},
        )
        conn.execute(
            text(
                "INSERT INTO subscriptions (user_id, feed_id, read_upto_id) "
                "SELECT :user_id, id, 0 FROM feeds"
            ),
            {"user_id": user_id},
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _best(db: Database, user_id: int, limit: int, with_content: bool, runs: int) -> float:
    times = []
    with db.session() as session:
        for _ in range(runs):
            started = time.perf_counter()
            streams.stream_page(
                session, user_id, StreamQuery(read=False), None, limit=limit,
                with_content=with_content,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
    return round(min(times) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=500, help="items per feed")
    parser.add_argument("--item-bytes", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    url = _recreate(args.admin_url)
    db = Database(normalize_database_url(url), pool_size=1)
    account = create_account(url)
    _fill(db, account.user_id, args.feeds, args.items, args.item_bytes)
    rows = []
    for with_content, sizes in ((False, (20, 100, 250, 1000)), (True, (20, 100, 250))):
        for limit in sizes:
            row: dict[str, object] = {"n": limit, "html": with_content}
            for plan, lateral_max in (("per feed", 10**9), ("one scan", 0)):
                streams.LATERAL_MAX = lateral_max
                row[plan] = _best(db, account.user_id, limit, with_content, args.runs)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    with db.session() as session:
        postgres = str(session.execute(text("SELECT version()")).scalar_one()).split(" on ")[0]
    db.dispose()
    print(json.dumps({
        "command": "python -m bench.greader_streams " + " ".join(sys.argv[1:]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": psutil.cpu_count(logical=True),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "postgres": postgres,
        },
        "feeds": args.feeds, "items_per_feed": args.items, "item_bytes": args.item_bytes,
        "best_of": args.runs, "ms": rows,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

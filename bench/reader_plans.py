"""EXPLAIN (ANALYZE, BUFFERS) of the reader's queries on a synthetic data set.

    python -m bench.reader_plans postgresql://postgres@127.0.0.1/feedqueue_reader_plans

The database is dropped and created (so name a scratch one), migrated, and filled
with 2,000 feeds of 200 items (400,000 items) and 100 people following 100 feeds each;
then each query is captured as the storage function sends it and explained. It is a
look at the plans, not the issue's 17.9 benchmark (which needs 2,000,000 items and p99s).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.config import normalize_database_url
from app.storage import reading, search
from app.storage.reading import Filters
from bench import reader_db

FILL = """
INSERT INTO users (username, password_hash) SELECT 'u' || n, 'x' FROM generate_series(1, 100) n;
INSERT INTO feeds (url, current_url, title, state)
SELECT 'https://f' || n || '.example/', 'https://f' || n || '.example/', 'feed ' || n, 'active'
FROM generate_series(1, 2000) n;
INSERT INTO items (feed_id, key, title, content_html, content_hash, sort_at)
SELECT f, 'k' || i,
       'item ' || i || ' of feed ' || f || CASE WHEN i % 50 = 0 THEN ' postgres' ELSE '' END,
       '<p>some words about gardening and cooking number ' || i || '</p>', 'h',
       now() - make_interval(hours => (i * 7 + f) % 20000)
FROM generate_series(1, 2000) f, generate_series(1, 200) i;
INSERT INTO subscriptions (user_id, feed_id)
SELECT u, ((u * 37 + k * 13) % 2000) + 1 FROM generate_series(1, 100) u, generate_series(1, 100) k
ON CONFLICT DO NOTHING;
"""

QUERIES: list[tuple[str, Callable[[Session], Any]]] = [
    ("river, first page", lambda s: reading.river_page(s, 1, Filters(), limit=50)),
    ("river, unread only", lambda s: reading.river_page(s, 1, Filters(unread_only=True))),
    ("river, one feed", lambda s: reading.river_page(s, 1, Filters(feed_ids=[38]))),
    ("unread counts", lambda s: reading.unread_counts(s, 1)),
    ("search, a rare word", lambda s: search.search(s, 1, "postgres", Filters())),
    ("search, a word in every item", lambda s: search.search(s, 1, "gardening", Filters())),
    ("mark a feed read", lambda s: reading.mark_all_read(s, 1, feed_ids=[38])),
]


def prepare(url: str) -> None:
    """Drop, create, migrate and fill the scratch database at ``url``."""
    reader_db.recreate(url)
    engine = create_engine(url)
    reader_db.run_sql(engine, FILL)
    reader_db.vacuum_analyze(engine)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    args = parser.parse_args(argv)
    url = normalize_database_url(args.database_url)
    prepare(url)
    engine = create_engine(url)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores\n")
    for label, query in QUERIES:
        print(f"### {label}\n\n```\n{reader_db.explain(engine, query)}\n```\n")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

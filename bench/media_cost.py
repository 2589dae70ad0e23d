"""What enclosures and feed icons add to a fetch: parsing, and the icon check in the write.

    python -m bench.media_cost <scratch database URL>

1. Parsing: a 50-item podcast feed (one <enclosure> and one <media:content> per item)
   parsed as usual, and with enclosure reading switched off (same process, interleaved).
2. The icon check's plan (EXPLAIN ANALYZE of `icon_due`'s query) for a feed with and
   one without an icon row, on a database holding 10,000 feeds, half of them with one.
3. Writing: the fetch job's transaction for a changed feed (store_items of 50 items,
   5 of them new) with and without the icon check.

``--only parse,plan`` runs the first two (seconds of one core), ``write`` the third.

The database is emptied and migrated first: give a scratch one.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.config import normalize_database_url
from app.pipeline import enclosures, parse
from app.pipeline.parse import parse_feed
from app.storage.icons import icon_due, save_icon
from app.storage.items import store_items

FEEDS = 10_000
ITEMS = 50
START = datetime(2026, 11, 1, tzinfo=UTC)


def podcast(items: int = ITEMS, offset: int = 0) -> bytes:
    """An RSS podcast of ``items`` episodes, newest first."""
    entries = "".join(
        f"""<item><title>Episode {n}</title><guid>ep{n}</guid>
<pubDate>{format_datetime(START - timedelta(hours=n), usegmt=True)}</pubDate>
<description>&lt;p&gt;Show notes of episode {n}, with a few words.&lt;/p&gt;</description>
<enclosure url="https://cdn.example/ep{n}.mp3" length="{48_000_000 + n}" type="audio/mpeg"/>
<media:content url="https://cdn.example/ep{n}.mp4" type="video/mp4" fileSize="{n + 1}"/>
</item>"""
        for n in range(offset, offset + items)
    )
    return f"""<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Bench</title><link>https://bench.example/</link>
<image><url>https://bench.example/i.png</url><title>b</title><link>/</link></image>
{entries}</channel></rss>""".encode()


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def parsing(rounds: int) -> tuple[float, float]:
    """Median ms to parse the podcast with and without enclosure reading (interleaved)."""
    body = podcast()
    real = enclosures.entry_enclosures
    with_ms, without_ms = [], []
    for _ in range(rounds):
        parse.entry_enclosures = real  # type: ignore[attr-defined]
        with_ms.append(_median_ms(lambda: parse_feed(body, {}, "https://bench.example/f"), 1))
        parse.entry_enclosures = lambda _entry, _base: []  # type: ignore[attr-defined]
        without_ms.append(_median_ms(lambda: parse_feed(body, {}, "https://bench.example/f"), 1))
    parse.entry_enclosures = real  # type: ignore[attr-defined]
    return statistics.median(with_ms), statistics.median(without_ms)


def prepare(url: str) -> None:
    """Empty and migrate the scratch database, then add the feeds and half the icon rows."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    config = Config("alembic.ini")
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    engine = create_engine(url)
    with Session(engine) as session:
        session.execute(
            text(
                "INSERT INTO feeds (url, current_url, state) "
                "SELECT 'https://f' || n || '.example/', 'https://f' || n || '.example/', 'new' "
                "FROM generate_series(1, :n) AS n"
            ),
            {"n": FEEDS},
        )
        for feed_id in range(1, FEEDS + 1, 2):
            found = ("https://i.example/i.png", "image/png", b"\x89PNG" + b"\0" * 900, "a" * 64)
            save_icon(session, feed_id, declared_url=None, now=START, found=found)
        session.commit()
    engine.dispose()


def writing(url: str, rounds: int) -> tuple[float, float]:
    """Median ms of the changed-feed transaction with and without the icon check."""
    engine = create_engine(url)
    feed = parse_feed(podcast(), {}, "https://bench.example/f")
    result: dict[bool, list[float]] = {False: [], True: []}
    for run, check in enumerate((False, True, False, True)):
        for r in range(rounds):
            feed_id = 1 + (run * rounds + r) % FEEDS
            newer = parse_feed(
                podcast(5, offset=-(run * rounds + r + 1) * 5), {}, "https://bench.example/f"
            )
            with Session(engine) as session:
                store_items(session, feed_id, feed.items[:45])  # what the feed held before
                session.commit()
                started = time.perf_counter()
                store_items(session, feed_id, newer.items + feed.items[:45])
                if check:
                    icon_due(session, feed_id, feed.icon_url, now=START, refresh_after=timedelta(7))
                session.commit()
                result[check].append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return statistics.median(result[True]), statistics.median(result[False])


_ICON_DUE_SQL = "SELECT fetched_at, declared_url, error FROM feed_icons WHERE feed_id = :feed_id"


def plans(url: str) -> str:
    """EXPLAIN ANALYZE of the icon check for a feed with an icon row and one without."""
    engine = create_engine(url)
    out = []
    with engine.connect() as conn:
        conn.execute(text("ANALYZE feed_icons"))
        for feed_id in (FEEDS // 2 + 1, FEEDS // 2 + 2):
            rows = conn.execute(
                text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + _ICON_DUE_SQL),
                {"feed_id": feed_id},
            )
            out.append("\n".join(row[0] for row in rows))
    engine.dispose()
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--only", default="parse,plan,write")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    url = normalize_database_url(args.database_url)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    if "parse" in only:
        with_ms, without_ms = parsing(args.rounds)
        print(
            f"parse 50-item podcast: {with_ms:.2f} ms with enclosures, {without_ms:.2f} ms without"
        )
    if only & {"plan", "write"}:
        prepare(url)
    if "plan" in only:
        print(plans(url))
    if "write" in only:
        check_ms, plain_ms = writing(url, args.rounds)
        print(
            f"changed-feed write (50 items, 5 of them new): {check_ms:.2f} ms with the icon "
            f"check, {plain_ms:.2f} ms without"
        )
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

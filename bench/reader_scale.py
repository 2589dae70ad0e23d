"""The reader at the issue's scale: latencies of the river, a folder's unread page,
unread counts and search with 100 people, 10,000 feeds, 2,000,000 items and 50,000
subscriptions, and the cost of marking a feed of 10,000 unread items read.

    flock /tmp/feedqueue-bench.lock python -m bench.reader_scale fill
    flock /tmp/feedqueue-bench.lock python -m bench.reader_scale measure
    python -m bench.reader_scale drop

``fill`` recreates the scratch database (default
postgresql://postgres@127.0.0.1:5432/feedqueue_reader_scale) and fills it
(bench.reader_fill); ``measure`` times the storage functions in this process,
then starts gunicorn with the project's gunicorn.conf.py at default settings and
sends each request one at a time (keep-alive, ``Authorization: Bearer``, the 100
people in turn), prints p50/p95/p99, the statements and time of mark-all-read and
the EXPLAIN (ANALYZE, BUFFERS) plans, and writes them to bench/results/ as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from app.services import reading as reading_service
from app.services.reading import Scope
from app.storage import reading, search
from app.storage.reading import Filters
from bench import reader_db, reader_fill
from bench.machine import describe
from bench.stack import ROOT, WEB_PORT, Services, start_web

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/feedqueue_reader_scale"
REDIS_URL = "redis://127.0.0.1:6379/10"
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Person:
    """One of the 100 people: their id, API token and the folder whose unread page is read."""

    user_id: int
    token: str
    folder_id: int
    folder_feeds: list[int]


def people(engine: Engine, database: str) -> list[Person]:
    """Every person of the data set, with their biggest top-level folder."""
    sql = """
    SELECT DISTINCT ON (f.user_id) f.user_id, f.id,
           array(SELECT s.feed_id FROM subscriptions s JOIN folders g ON g.id = s.folder_id
                 WHERE g.id = f.id OR g.parent_id = f.id)
    FROM folders f WHERE f.parent_id IS NULL AND f.name = 'Folder 1'
    ORDER BY f.user_id
    """
    with engine.connect() as conn:
        rows = list(conn.execute(text(sql)))
    return [Person(u, reader_fill.token_of(u, database), f, list(feeds)) for u, f, feeds in rows]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of ``samples_ms`` (nearest rank), rounded to 0.1 ms."""
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(p * len(ordered))) - 1))]

    return {
        "n": len(ordered),
        "p50_ms": round(rank(0.50), 1),
        "p95_ms": round(rank(0.95), 1),
        "p99_ms": round(rank(0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }


# -- storage functions, in this process -----------------------------------------------

StorageCall = Callable[[Session, Person], Any]

STORAGE: list[tuple[str, StorageCall]] = [
    ("river, first page", lambda s, p: reading.river_page(s, p.user_id, Filters(), limit=50)),
    (
        "folder, unread page",
        lambda s, p: reading.river_page(
            s, p.user_id, Filters(p.folder_feeds, unread_only=True), limit=50
        ),
    ),
    ("unread counts", lambda s, p: reading.unread_counts(s, p.user_id)),
    (
        "unread counts with folders (service)",
        lambda s, p: reading_service.unread_counts(s, p.user_id),
    ),
    (
        f"search, rare word ({reader_fill.RARE_WORD})",
        lambda s, p: search.search(s, p.user_id, reader_fill.RARE_WORD, Filters()),
    ),
    (
        f"search, common word ({reader_fill.COMMON_WORD})",
        lambda s, p: search.search(s, p.user_id, reader_fill.COMMON_WORD, Filters()),
    ),
    (
        f"search, word in 1 item of 9 ({reader_fill.MEDIUM_WORD})",
        lambda s, p: search.search(s, p.user_id, reader_fill.MEDIUM_WORD, Filters()),
    ),
]


#: Samples taken however long they take (``--min-samples``): 100 give a p99 of sorts.
MIN_SAMPLES = [100]


def _budget_left(started: float, budget: float, samples: list[float]) -> bool:
    # A query far over its target would take hours at full count: stop after the
    # budget, once there are MIN_SAMPLES.
    return time.monotonic() - started < budget or len(samples) < MIN_SAMPLES[0]


def time_storage(
    engine: Engine, everyone: list[Person], rounds: int, budget: float
) -> dict[str, dict]:
    """Each storage call ``rounds`` times per person (after one untimed call for the
    first ten people), or fewer when it takes more than ``budget`` seconds."""
    results = {}
    for label, call in STORAGE:
        samples: list[float] = []
        started = time.monotonic()
        for n in range(rounds + 1):
            if not _budget_left(started, budget, samples):
                break
            for person in everyone[:10] if n == 0 else everyone:
                with Session(engine) as session:
                    started = time.perf_counter()
                    call(session, person)
                    elapsed = (time.perf_counter() - started) * 1000
                    session.rollback()
                if n:
                    samples.append(elapsed)
        results[label] = percentiles(samples)
        print(f"  storage  {label:45} {results[label]}", flush=True)
    return results


def mark_all_read(engine: Engine, repeat: int) -> dict[str, object]:
    """Person 1 marks feed 1 (10,000 unread items) read: statements and time, each
    run rolled back so the next one finds the same 10,000 unread items."""
    feed = reader_fill.UNREAD_FEED
    times, unread_before, unread_after, storage_statements, service_statements = [], 0, 0, 0, 0
    for n in range(repeat):
        with Session(engine) as session:
            unread_before = reading.unread_counts(session, 1)[feed]
            with reader_db.statements(engine) as sent:
                started = time.perf_counter()
                reading.mark_all_read(session, 1, feed_ids=[feed])
                times.append((time.perf_counter() - started) * 1000)
            storage_statements = len(sent)
            unread_after = reading.unread_counts(session, 1)[feed]
            session.rollback()
        if n == 0:
            # Through the service as POST /api/mark-all-read calls it (the scope checked
            # first, then the update), rolled back instead of committed.
            with Session(engine) as session, reader_db.statements(engine) as sent:
                session.commit = session.flush  # type: ignore[method-assign]
                reading_service.mark_all_read(session, 1, Scope(feed_id=feed))
                service_statements = len(sent)
                session.rollback()
    return {
        "unread_before": unread_before,
        "unread_after": unread_after,
        "statements": storage_statements,
        "statements_through_service": service_statements,
        **percentiles(times),
    }


# -- HTTP against gunicorn ------------------------------------------------------------


def _paths(person: Person) -> dict[str, str]:
    return {
        "GET /api/items (river, first page)": "/api/items",
        "GET / (river page with sidebar)": "/",
        "GET /api/items?folder_id&unread (folder, unread)": (
            f"/api/items?folder_id={person.folder_id}&unread=true"
        ),
        "GET /api/counts": "/api/counts",
        f"GET /api/search?q={reader_fill.RARE_WORD}": f"/api/search?q={reader_fill.RARE_WORD}",
        f"GET /api/search?q={reader_fill.COMMON_WORD}": (
            f"/api/search?q={reader_fill.COMMON_WORD}"
        ),
    }


def time_http(everyone: list[Person], rounds: int, budget: float) -> dict[str, dict]:
    """Each endpoint ``rounds`` times per person, one request at a time, after one
    untimed request for the first ten people (or fewer when it takes more than
    ``budget`` seconds); any answer but 200 stops the run."""
    results = {}
    conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
    for label in _paths(everyone[0]):
        samples: list[float] = []
        started = time.monotonic()
        for n in range(rounds + 1):
            if not _budget_left(started, budget, samples):
                break
            for person in everyone[:10] if n == 0 else everyone:
                path = _paths(person)[label]
                headers = {"Authorization": f"Bearer {person.token}"}
                started = time.perf_counter()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
                if n:
                    samples.append(elapsed)
        results[label] = percentiles(samples)
        print(f"  http     {label:45} {results[label]}", flush=True)
    conn.close()
    return results


def plans(engine: Engine, everyone: list[Person]) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each storage call for person 2 (a typical one) and
    of mark-all-read for person 1."""
    person = everyone[1]
    found = {
        label: reader_db.explain(engine, lambda s, call=call: call(s, person))
        for label, call in STORAGE
        if "service" not in label
    }
    found["mark feed 1 read (person 1, 10,000 unread)"] = reader_db.explain(
        engine, lambda s: reading.mark_all_read(s, 1, feed_ids=[reader_fill.UNREAD_FEED])
    )
    return found


def _sizes(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        counts = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("users", "feeds", "items", "subscriptions", "folders", "item_states")
        }
        counts["database_size"] = conn.scalar(
            text("SELECT pg_size_pretty(pg_database_size(current_database()))")
        )
    return counts


def measure(
    url: str, rounds: int, http_rounds: int, budget: float, *, http: bool = True
) -> dict[str, object]:
    """Every figure of the bench, as a dict (also printed as it goes)."""
    database = make_url(url).database or ""
    engine = create_engine(url, pool_size=2)
    everyone = people(engine, database)
    services = Services(url, REDIS_URL)
    result: dict[str, object] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg(),
        "machine": describe(services),
        "sizes": _sizes(engine),
    }
    print(json.dumps(result, indent=1, default=str), flush=True)
    result["storage"] = time_storage(engine, everyone, rounds, budget)
    result["mark_all_read"] = mark_all_read(engine, 20)
    print(f"  mark-all-read {result['mark_all_read']}", flush=True)
    if http:
        # The app at its defaults, placement as auto decides on a shared host (PIN_CPUS=false).
        web = start_web(services, PIN_CPUS="false")
        try:
            result["http"] = time_http(everyone, http_rounds, budget)
        finally:
            web.stop()
    result["load_average_after"] = os.getloadavg()
    result["plans"] = plans(engine, everyone)
    engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["fill", "measure", "drop"])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=5, help="storage calls per person")
    parser.add_argument("--http-rounds", type=int, default=10, help="requests per person")
    parser.add_argument("--budget", type=float, default=120, help="seconds per query at most")
    parser.add_argument("--min-samples", type=int, default=100, help="taken whatever the budget")
    parser.add_argument("--no-http", action="store_true", help="storage functions only")
    parser.add_argument("--label", default="", help="added to the results file's name")
    args = parser.parse_args(argv)
    url = args.database_url
    if args.action == "drop":
        reader_db.drop(url)
        return 0
    if args.action == "fill":
        started = time.monotonic()
        reader_db.recreate(url)
        engine = create_engine(url)
        reader_fill.fill(engine, make_url(url).database or "")
        print(json.dumps(_sizes(engine)), f"in {time.monotonic() - started:.0f} s")
        engine.dispose()
        return 0
    MIN_SAMPLES[0] = args.min_samples
    result = measure(url, args.rounds, args.http_rounds, args.budget, http=not args.no_http)
    for label, plan in result["plans"].items():  # type: ignore[union-attr]
        print(f"### {label}\n\n```\n{plan}\n```\n")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(RESULTS) / f"reader-scale-{stamp}{'-' + args.label if args.label else ''}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

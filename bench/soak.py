"""A long refresh run under the plans app.json picks: the budgets hold, the database stays flat.

    flock /tmp/feedqueue-bench.lock python -m bench.soak --minutes 60

app.json's env and formation (one web dyno: gunicorn with WEB_CONCURRENCY=2, as the
buildpack sets on a basic dyno; one worker dyno: ``worker.py``) against a
redis-server limited as Key-Value Store mini (20 clients, 25 MB, ``noeviction``) and a
Postgres role with ``CONNECTION LIMIT 20`` (essential-0), set up by bench.plans as the
plan-limit tests do. The loopback feed server serves ``--feeds`` feeds with realistic
latency whose documents change (``--change-rate``: each change brings 20 new items);
every feed is followed and refreshed every ``--interval`` seconds, and the web takes a
trickle of ``POST /feeds`` (the bench account's token) from a pool of more feeds.

Every ``--sample-every`` seconds the bench records Redis clients and memory, the
role's Postgres connections (their peaks are sampled every 0.25 s), each dyno's
process-tree RSS (peaks every second, bench.dyno_memory), ``pg_database_size``, rows and
fetches done. At the end it reads every log for refused connections, OOM and tracebacks.

Accelerated, so retention has work within the hour (docs/operations.md says so too):

- fetch rows: the bench's clock runs ``--speedup`` times faster for them. A fetch
  row that finished more than RETENTION_FETCH_DAYS / speedup ago is moved back
  RETENTION_FETCH_DAYS (one UPDATE per row, by the bench as the superuser), so the
  worker dyno's own housekeeping, unchanged and with its default window, deletes it
  at its next pass;
- items: the feed server dates its items in 2023, past RETENTION_ITEM_DAYS already,
  and FETCH_MAX_ITEMS = RETENTION_ITEMS_PER_FEED = ``--keep`` (default 20, instead of
  500), so each change of a document makes as many items prunable as it brings;
- the local Postgres runs with ``autovacuum = off`` (Heroku Postgres runs it): the
  bench runs a plain ``VACUUM`` of the database every minute in its place.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from bench import machine
from bench.accounts import create_account, subscribe_all
from bench.dyno_memory import Peaks as TreePeaks
from bench.dyno_memory import tree_memory
from bench.plans import MINI_ESSENTIAL0, Sampler, Stack, app_json_env, limited_stack
from bench.soak_db import AdminConnection
from bench.soak_report import Sample, errors_in_logs, summary, table
from bench.stack import (
    FEED_PORT,
    LOG_DIR,
    ROOT,
    WEB_PORT,
    Proc,
    Services,
    feed_base,
    running,
    start_feedserver,
    wait_until,
    web_url,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = ROOT / "bench" / "results"
#: What the bench's VACUUM stands in for: autovacuum, at its default naptime.
VACUUM_EVERY = 60.0


@dataclass(frozen=True)
class Options:
    minutes: float
    feeds: int
    interval: int
    change_rate: float
    keep: int
    submit_every: float
    pool: int
    sample_every: float
    speedup: float


def _seed(stack: Stack, options: Options) -> Services:
    """The bench account and ``feeds`` followed feeds, due spread over one interval."""
    services = Services(stack.admin_database_dsn, stack.redis_url)
    services.account = create_account(stack.admin_database_dsn)
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO feeds (url, current_url, state, next_fetch_at, refresh_interval)
            SELECT %(base)s || n || '.xml', %(base)s || n || '.xml', 'active',
                   now() + n * %(step)s * interval '1 second', %(interval)s
            FROM generate_series(1, %(feeds)s) AS n
            """,
            {
                "base": feed_base(),
                "feeds": options.feeds,
                "step": options.interval / options.feeds,
                "interval": options.interval,
            },
        )
        subscribe_all(cur, services.user.user_id)
    conn.close()
    return services


def _dyno_env(stack: Stack, options: Options) -> dict[str, str]:
    return app_json_env(
        stack,
        os.environ,
        MINI_ESSENTIAL0,
        # Every feed refreshed every --interval seconds, whatever its posting rate.
        REFRESH_MIN_SECONDS=str(options.interval),
        REFRESH_DEFAULT_SECONDS=str(options.interval),
        REFRESH_MAX_SECONDS=str(options.interval),
        FETCH_MAX_ITEMS=str(options.keep),
        RETENTION_ITEMS_PER_FEED=str(options.keep),
        LOG_LEVEL="INFO",
    )


def _start_dynos(env: dict[str, str]) -> tuple[Proc, Proc]:
    for name in ("soak-web", "soak-worker"):
        (LOG_DIR / f"{name}.log").unlink(missing_ok=True)
    web = Proc(
        "soak-web",
        [
            sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
            "--bind", f"127.0.0.1:{WEB_PORT}", "app:create_app()",
        ],
        {**env, "WEB_CONCURRENCY": "2", "PORT": str(WEB_PORT)},
    )  # fmt: skip

    def healthy() -> bool:
        with urllib.request.urlopen(web_url("/healthz"), timeout=2) as r:
            return r.status == 200

    wait_until(healthy, 60, "gunicorn")
    worker = Proc("soak-worker", [sys.executable, "worker.py"], env)
    return web, worker


class Submitter(threading.Thread):
    """``POST /feeds`` every ``every`` seconds, cycling through a pool of more feeds
    (new the first time, followed already afterwards); counts answers by status."""

    def __init__(self, services: Services, options: Options) -> None:
        super().__init__(daemon=True)
        self.http = requests.Session()
        self.http.headers.update(services.user.headers())
        self.options = options
        self.statuses: dict[str, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stopped.wait(self.options.submit_every):
            n = self.options.feeds + 1 + i % self.options.pool
            i += 1
            try:
                status = str(
                    self.http.post(
                        web_url("/feeds"), json={"url": f"{feed_base()}{n}.xml"}, timeout=30
                    ).status_code
                )
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _feedserver_stats() -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{FEED_PORT}/stats", timeout=5) as r:
        return json.loads(r.read())


def soak(options: Options) -> dict[str, Any]:
    """Run the stack for ``options.minutes``; everything measured."""
    directory = Path(tempfile.mkdtemp(prefix="feedqueue-soak-"))
    with limited_stack(ADMIN_URL, directory, MINI_ESSENTIAL0, name="fq_soak") as stack:
        services = _seed(stack, options)
        described = machine.describe(services)
        server = start_feedserver(
            "--latency", "realistic:300:3:5:1", "--items", "20",
            "--change-rate", str(options.change_rate),
        )  # fmt: skip
        with running(server):
            web, worker = _start_dynos(_dyno_env(stack, options))
            with running(web, worker):
                measured = _measure(stack, services, options, {"web": web, "worker": worker})
        logs = [web.log_path, worker.log_path, stack.redis_log]
        errors = errors_in_logs(logs)
    return {
        "options": asdict(options),
        "machine": described,
        "command": "python -m bench.soak " + " ".join(sys.argv[1:]),
        "logs": {"directory": str(directory), "errors": errors},
        **measured,
    }


def _measure(
    stack: Stack, services: Services, options: Options, dynos: dict[str, Proc]
) -> dict[str, Any]:
    sampler = Sampler(stack.redis_url, stack.admin_dsn, stack.role, every=0.25)
    trees = TreePeaks(dynos, every=1.0)
    submitter = Submitter(services, options)
    db = AdminConnection(stack.admin_database_dsn)
    samples: list[Sample] = []
    began = time.monotonic()
    end = began + options.minutes * 60
    next_vacuum = began + VACUUM_EVERY
    aged = 0
    for thread in (sampler, trees, submitter):
        thread.start()
    try:
        while True:
            now = time.monotonic()
            aged += db.age_fetch_rows(options.speedup)
            if now >= next_vacuum:
                db.vacuum()
                next_vacuum = now + VACUUM_EVERY
            clients, connections, memory = sampler.latest
            rss = {name: round(tree_memory(proc)[0], 1) for name, proc in dynos.items()}
            samples.append(
                Sample(
                    seconds=round(now - began, 1),
                    redis_clients=clients,
                    postgres_connections=connections,
                    redis_memory=memory,
                    rss_mib=rss,
                    load=machine_load(),
                    **db.figures(),
                )
            )
            print(samples[-1].line(), flush=True)
            if now >= end:
                break
            time.sleep(max(0.0, min(options.sample_every, end - time.monotonic())))
    finally:
        submitter.stopped.set()
        submitter.join(35)
        peaks = sampler.stop()
        trees.stopped.set()
        trees.join(5)
        db.close()
    return {
        "seconds": round(time.monotonic() - began, 1),
        "peaks": asdict(peaks),
        "rss_peaks": trees.peak,
        "submissions": submitter.statuses,
        "fetch_rows_aged": aged,
        "feedserver": _feedserver_stats(),
        "samples": [asdict(s) for s in samples],
    }


def machine_load() -> float:
    """The one-minute load average."""
    return round(os.getloadavg()[0], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--feeds", type=int, default=3000, help="feeds refreshed on schedule")
    parser.add_argument("--interval", type=int, default=300, help="refresh interval, seconds")
    parser.add_argument(
        "--change-rate", type=float, default=0.5, help="share of fetches with new items"
    )
    parser.add_argument(
        "--keep", type=int, default=20, help="FETCH_MAX_ITEMS = RETENTION_ITEMS_PER_FEED"
    )
    parser.add_argument(
        "--submit-every", type=float, default=2.0, help="seconds between POST /feeds"
    )
    parser.add_argument("--pool", type=int, default=300, help="feeds the submissions cycle through")
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--speedup", type=float, default=360.0, help="the fetch rows' clock")
    parser.add_argument("--render", type=Path, help="only print the table of a results JSON")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
    else:
        options = Options(**{k: v for k, v in vars(args).items() if k != "render"})
        result = soak(options)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(result, indent=2, default=str))
        print(f"results: {path.relative_to(ROOT)}")
    print(table(result, summary(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

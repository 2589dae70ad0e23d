"""A fresh gunicorn worker's first ``POST /feeds`` (or page) against the ones after it.

    python -m bench.first_request [--rounds 5] [--after 20] [--page /signin]

Each round starts gunicorn (gunicorn.conf.py, one worker, settings at their
defaults otherwise) against a database and a Redis db of its own
(``feedqueue_firstreq``, Redis db 13), waits until the worker has booted and
gone quiet (its CPU time still for half a second), then sends one ``POST
/feeds`` with the bench account's token and ``--after`` more over the same
connection, each for a new feed (with ``--page``: ``GET`` that page instead, as a
browser that is not signed in), and stops it. Prints one JSON line per round
(first, median and max of the rest, in ms) and the medians over the rounds.
No worker runs: the jobs stay queued. Run it under the bench lock.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import redis
import requests

from bench.accounts import create_account
from bench.stack import ROOT, port_open, wait_until

DB_NAME = "feedqueue_firstreq"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
PORT = 8611


def _database() -> str:
    import psycopg2

    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()
    url = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return url


def _quiet(pid: int) -> bool:
    """True once the worker ``pid`` (a child of the master) used no CPU for 0.5 s."""
    children = psutil.Process(pid).children()
    if not children:
        return False
    before = sum(sum(c.cpu_times()[:2]) for c in children)
    time.sleep(0.5)
    return sum(sum(c.cpu_times()[:2]) for c in children) == before


def _round(
    env: dict[str, str], headers: dict[str, str], offset: int, after: int, page: str | None
) -> dict:
    log = open(Path("/tmp") / "feedqueue-firstreq-web.log", "w")  # noqa: SIM115
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{PORT}",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: port_open(PORT), 30, "gunicorn")
        wait_until(lambda: _quiet(web.pid), 60, "a booted, quiet worker")
        times = []
        with requests.Session() as session:
            for n in range(after + 1):
                started = time.perf_counter()
                if page:
                    answer = session.get(f"http://127.0.0.1:{PORT}{page}")
                    expected = 200
                else:
                    url = f"https://example.com/first-request/{offset + n}.xml"
                    answer = session.post(
                        f"http://127.0.0.1:{PORT}/feeds", json={"url": url}, headers=headers
                    )
                    expected = 202
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == expected, answer.text
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)
        log.close()
    return {
        "first_ms": round(times[0], 1),
        "rest_median_ms": round(statistics.median(times[1:]), 1),
        "rest_max_ms": round(max(times[1:]), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--after", type=int, default=20)
    parser.add_argument("--page", help="GET this page (e.g. /signin) instead of POST /feeds")
    args = parser.parse_args(argv)
    db_url = _database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    account = create_account(db_url)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "first-request",
        "FEEDQUEUE_ENV": "production",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "1",
        "QUEUE_PREFIX": "feedqueue-firstreq",
        "SUBMIT_RATE_LIMIT": "1000000 per second",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    rounds = []
    for r in range(args.rounds):
        row = _round(env, account.headers(), r * 1000, args.after, args.page)
        row["loadavg"] = open("/proc/loadavg").read().split()[:3]
        print(json.dumps(row), flush=True)
        rounds.append(row)
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "first_median_ms": statistics.median(r["first_ms"] for r in rounds),
                "rest_median_ms": statistics.median(r["rest_median_ms"] for r in rounds),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

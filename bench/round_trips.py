"""Redis round trips per submission and per fetch job, counted in-process.

    python -m bench.round_trips [--submissions 200]

Every write of a command (or of a whole pipeline) to a Redis socket is one round
trip: redis-py's ``send_packed_command`` is counted for every connection of this
process. The app runs here: ``POST /feeds`` through Flask's test client (the API
token, Flask-Limiter, admission, the enqueue and the queue position, as in the web
dyno), then one ``FeedWorker`` works the queued jobs in burst mode against a loopback
feed server (dequeue, RQ's bookkeeping, the host budget, as a worker thread does;
the threaded worker's shared blocking dequeue is one ``BLMOVE`` in place of the
burst worker's non-blocking one). Then ``--waiting`` more submissions for one host
whose only slot is held: what a job waiting for its host costs (round trips to
park it, bytes while it waits), and ``--steady`` more worked one at a time by a
worker already listening: a job's own round trips, without the worker's start
and end (``round_trips_per_job_steady``, with the commands of the last one).
Counts, not timings: it needs no bench lock, and uses a database and a Redis db
of its own (``feedqueue_roundtrips``, Redis db 12).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.connection import AbstractConnection

from bench.accounts import create_account
from bench.stack import ROOT, port_open, wait_until

DB_NAME = "feedqueue_roundtrips"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/12"


@dataclass
class Count:
    round_trips: int = 0
    bytes_sent: int = 0


_count = Count()
_send = AbstractConnection.send_packed_command


_listeners: list[list[str]] = []


def _counting_send(self: AbstractConnection, command: object, check_health: bool = True) -> None:
    _count.round_trips += 1
    items = [command] if isinstance(command, (bytes, str)) else command
    _count.bytes_sent += sum(len(item) for item in items)  # type: ignore[union-attr]
    for names in _listeners:
        names.append(_names(list(items)))  # type: ignore[arg-type]
    _send(self, command, check_health)


@contextmanager
def counted() -> Iterator[Count]:
    """Count the round trips of the block."""
    start = Count(_count.round_trips, _count.bytes_sent)
    result = Count()
    yield result
    result.round_trips = _count.round_trips - start.round_trips
    result.bytes_sent = _count.bytes_sent - start.bytes_sent


def _database() -> str:
    import psycopg2

    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()
    url = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL},
        check=True,
        capture_output=True,
    )
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _waiting(ctx: Any, client: Any, headers: dict[str, str], url: str, count: int) -> dict:
    """Submit ``count`` feeds of one host whose one slot is held; work them (each parks)."""
    from dataclasses import replace

    from app.context import set_context
    from app.queue.politeness import HostBudget, Lease
    from app.workers.rqworker import FeedWorker

    budget = HostBudget(
        ctx.queues.redis,
        prefix=ctx.settings.queue_prefix,
        concurrency=1,
        per_minute=100_000,
        lease_seconds=ctx.settings.job_timeout,
    )
    set_context(replace(ctx, budget=budget))
    assert isinstance(budget.acquire("127.0.0.1"), Lease)
    redis_client = ctx.queues.redis
    before = int(redis_client.info("memory")["used_memory"])
    for n in range(count):
        client.post("/feeds", json={"url": f"{url}w{n}.xml"}, headers=headers)
    queued = int(redis_client.info("memory")["used_memory"])
    worker = FeedWorker(ctx.queues.in_priority_order, connection=redis_client, host_budget=budget)
    with counted() as parking:
        worker.work(burst=True, logging_level="WARNING")
    parked = int(redis_client.info("memory")["used_memory"])
    return {
        "waiting_jobs": budget.waiting(),
        "round_trips_per_waiting_job": round(parking.round_trips / count, 2),
        "bytes_per_queued_job": round((queued - before) / count),
        "bytes_per_waiting_job": round((parked - before) / count),
    }


def _one_by_one(ctx: Any, client: Any, headers: dict[str, str], url: str, count: int) -> dict:
    """Submit ``count`` feeds, then work them one at a time with a worker already
    listening (its birth, first heartbeat and death not counted): each job's own
    round trips, median and most, as between two jobs of a busy worker."""
    from app.workers.rqworker import FeedWorker

    for n in range(count):
        client.post("/feeds", json={"url": f"{url}s{n}.xml"}, headers=headers)
    worker = FeedWorker(ctx.queues.in_priority_order, connection=ctx.queues.redis)
    worker.register_birth()
    worker.set_state("idle")
    worker.heartbeat()
    per_job: list[int] = []
    commands: list[str] = []
    for _ in range(count):
        with counted() as job, _commands() as sent:
            taken = worker.dequeue_job_and_maintain_ttl(None)
            assert taken is not None
            worker.execute_job(*taken)
        per_job.append(job.round_trips)
        commands = sent
    worker.register_death()
    per_job.sort()
    return {
        "round_trips_per_job_steady": per_job[len(per_job) // 2],
        "round_trips_per_job_steady_max": per_job[-1],
        "commands_of_last_job": commands,
    }


@contextmanager
def _commands() -> Iterator[list[str]]:
    """The command names of each round trip of the block (a pipeline's joined by ' ')."""
    names: list[str] = []
    _listeners.append(names)
    try:
        yield names
    finally:
        _listeners.remove(names)


def _names(items: list[bytes]) -> str:
    """Command names in a packed command: the element after each RESP array header."""
    parts = b"".join(items).split(b"\r\n")
    return " ".join(
        parts[i + 2].decode(errors="replace")
        for i in range(len(parts) - 2)
        if parts[i].startswith(b"*")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--steady", type=int, default=50)
    args = parser.parse_args(argv)
    from app import create_app
    from app.config import Settings
    from app.context import build_context, set_context
    from app.workers.rqworker import FeedWorker

    db_url = _database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    account = create_account(db_url)
    port = _free_port()
    feeds = subprocess.Popen(
        [sys.executable, "-m", "bench.feedserver", "--port", str(port), "--latency", "zero"],
        cwd=ROOT,
    )
    try:
        wait_until(lambda: port_open(port), 10, "feed server")
        settings = Settings.from_env(
            {
                "DATABASE_URL": db_url,
                "REDIS_URL": REDIS_URL,
                "SECRET_KEY": "round-trips",
                "FETCH_ALLOW_PRIVATE_NETWORKS": "true",
                "LOG_LEVEL": "WARNING",
                "FETCH_HOST_CONCURRENCY": "100000",
                "FETCH_HOST_PER_MINUTE": "100000000",
                "SUBMIT_RATE_LIMIT": "1000000 per second",
            }
        )
        app = create_app(settings)
        client = app.test_client()
        headers = account.headers()
        AbstractConnection.send_packed_command = _counting_send  # type: ignore[method-assign]
        url = f"http://127.0.0.1:{port}/feed/"
        client.post("/feeds", json={"url": f"{url}0.xml"}, headers=headers)  # warm
        with counted() as web:
            for n in range(1, args.submissions + 1):
                answer = client.post("/feeds", json={"url": f"{url}{n}.xml"}, headers=headers)
                assert answer.status_code == 202, answer.get_data(as_text=True)
        ctx = build_context(settings)
        set_context(ctx)
        jobs = ctx.queues.submissions.count
        memory = int(ctx.queues.redis.info("memory")["used_memory"])
        worker = FeedWorker(ctx.queues.in_priority_order, connection=ctx.queues.redis)
        started = time.monotonic()
        with counted() as work:
            worker.work(burst=True, logging_level="WARNING")
        left = int(ctx.queues.redis.info("memory")["used_memory"])
        keys = ctx.queues.redis.dbsize()
        steady = _one_by_one(ctx, client, headers, url, args.steady)
        waiting = _waiting(ctx, client, headers, url, args.waiting)
        print(
            json.dumps(
                {
                    "submissions": args.submissions,
                    "round_trips_per_submission": round(web.round_trips / args.submissions, 2),
                    "bytes_sent_per_submission": round(web.bytes_sent / args.submissions),
                    "jobs": jobs,
                    "round_trips_per_job": round(work.round_trips / max(1, jobs), 2),
                    "bytes_sent_per_job": round(work.bytes_sent / max(1, jobs)),
                    "worker_seconds": round(time.monotonic() - started, 1),
                    "used_memory_queued": memory,
                    "used_memory_after": left,
                    "keys_after": keys,
                    **steady,
                    **waiting,
                }
            )
        )
        ctx.close()
    finally:
        AbstractConnection.send_packed_command = _send  # type: ignore[method-assign]
        feeds.terminate()
        feeds.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

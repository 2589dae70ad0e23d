"""Scale-out where Postgres becomes the limit: 1..8 worker dynos against 1M or 10M feeds.

Loads ``--feeds`` active feeds into a database of their own (one set-based INSERT), each
followed by the bench user (a second one: the scheduler refreshes only feeds someone
follows, an EXISTS on subscriptions in its claim), spread over ``--hosts`` loopback
hosts of the bench feed server, with the validators it gives, so every refresh is a 304,
the cheapest refresh and the one that stresses the database most. Their due times are
spread at random over one refresh interval (30 min), so as many come due each second as
a steady schedule of that many feeds brings:
555/s for 1,000,000 feeds, 5,555/s for 10,000,000.

Then, for each count in ``--workers``, it starts that many ``python worker.py`` dynos
(WORKER_CONCURRENCY=1 each, every other setting at its default but the per-host
politeness budget, as in the rest of the bench), waits ``--warmup`` seconds, and
measures for ``--seconds``: due-feed claims and refreshes per second, the scheduling
lag at claim and at fetch start (p50, p99), Postgres CPU per refresh (the cluster's
processes from /proc), lock waits per refresh (pg_stat_activity sampled every 0.25 s),
WAL bytes per refresh, updates of feeds that were HOT, dead tuples, autovacuum runs,
the sizes of tables and indexes, and the costliest statements (pg_stat_statements).

Run (holding the bench lock; the private cluster is removed afterwards):

    flock /tmp/feedqueue-bench.lock .venv/bin/python -m bench.scale_out \\
        --feeds 1000000 --workers 1,2,4,8 --seconds 60

or, so the load (8-16 minutes at 10,000,000 feeds) does not hold the shared lock, let
the bench take it itself once the feeds are in, for the measured runs only:

    .venv/bin/python -m bench.scale_out --feeds 10000000 --workers 1,2,4,8 \\
        --lock /tmp/feedqueue-bench.lock
"""

from __future__ import annotations

import argparse
import fcntl
import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import scale_db
from bench.accounts import create_account
from bench.machine import box_busy, describe
from bench.scale_report import cycle_costs, markdown, row_of, tables_of
from bench.scale_sampler import Sampler, cpu_seconds
from bench.stack import (
    Proc,
    Services,
    _registered_workers,
    app_env,
    setting_default,
    wait_until,
)

DB_NAME = "feedqueue_scale"
INTERVAL = 30 * 60


@dataclass
class Plan:
    """What to load and run."""

    feeds: int = 1_000_000
    workers: tuple[int, ...] = (1, 2, 4, 8)
    seconds: float = 60.0
    warmup: float = 20.0
    hosts: int = 1000
    server: str = "private"  # or the admin URL of an existing server
    database: str = DB_NAME
    redis_url: str = "redis://127.0.0.1:6379/10"
    feed_port: int = 8700
    interval: int = INTERVAL  # seconds over which the due times are spread
    label: str = ""
    lock: str = ""  # a file to flock for the measured runs (not the load); "" takes none

    def start_in(self) -> float:
        """Seconds from the load's start to the first due time: the load itself takes
        50-90 s per million feeds here (feeds 32-51 s, their subscriptions 18-36 s,
        the vacuum 1-3 s), and nothing should be late before it ends."""
        return 2.0 + 100.0 * self.feeds / 1_000_000


def _start_workers(services: Services, count: int) -> list[Proc]:
    # WORKER_NICE=0: a worker dyno has its machine to itself, and here the box is shared
    # with other processes that run at normal priority.
    env = {
        "WORKER_CONCURRENCY": 1,
        "PIN_CPUS": "false",
        "WORKER_NICE": 0,
        "QUEUE_PREFIX": "feedqueue-scale",
    }
    procs = [
        Proc(f"scale-worker{i}", [sys.executable, "worker.py"], app_env(services, **env))
        for i in range(count)
    ]
    threads = int(str(setting_default("worker_threads")))  # each thread registers as an RQ worker
    wait_until(
        lambda: _registered_workers(services) >= count * threads,
        60 + 15 * count,
        f"{count} worker dynos",
    )
    return procs


def _stop_all(procs: list[Proc]) -> None:
    for proc in procs:  # all at once, as Heroku stops a formation
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.stop()


def measure(
    plan: Plan, services: Services, db_url: str, workers: int, feedserver: Proc
) -> dict[str, Any]:
    """One run: ``workers`` dynos, a warm-up, then a measured window.

    Rates, lags, CPU, waits and WAL are the window's. The table counters (updates, HOT
    updates, autovacuum runs) are the whole run's, read once the dynos have stopped:
    a pooled connection reports them to the statistics only every few seconds.
    """
    scale_db.reset_run(db_url, checkpoint=plan.server == "private")
    redis.Redis.from_url(services.redis_url).flushdb()
    procs = _start_workers(services, workers)
    stats = scale_db.connect(db_url)
    try:
        with Sampler(db_url, private=plan.server == "private") as sampler:
            time.sleep(plan.warmup)
            start = time.time()
            before = scale_db.counters(stats)
            sampler.mark_start()
            worker_cpu = sum(cpu_seconds(p) for p in procs)
            server_cpu, box = cpu_seconds(feedserver), box_busy()
            time.sleep(plan.seconds)
            end = time.time()
            after = scale_db.counters(stats)
            connections = _connections(services, stats)
            worker_cpu = sum(cpu_seconds(p) for p in procs) - worker_cpu
            server_cpu = cpu_seconds(feedserver) - server_cpu
            postgres = sampler.finish()
            box = box_busy() - box
        _stop_all(procs)
        fetches = scale_db.window_fetches(stats, start, end)
        whole_run = scale_db.counters(stats)
        finished = scale_db.finished_refreshes(stats)
        sizes = scale_db.sizes(stats)
        top = scale_db.statements(stats)
    finally:
        _stop_all(procs)
        stats.close()
    window = end - start
    row = row_of(workers, window, fetches, before, after, postgres, worker_cpu)
    row["run_refreshes"] = finished
    row.update(connections)
    row["tables"] = tables_of(whole_run, finished)
    row["sizes_mib"] = sizes
    row["statements"] = top
    row["cycle"] = cycle_costs(top)
    # What else kept the cores busy: other people's processes on a shared machine.
    others = box - postgres["cpu_s"] - worker_cpu - server_cpu
    row["feedserver_cpu_cores"] = round(server_cpu / window, 2)
    row["worker_cpu_cores"] = round(worker_cpu / window, 2)
    row["other_cpu_cores"] = round(max(0.0, others) / window, 2)
    return row


def _connections(services: Services, stats: Any) -> dict[str, Any]:
    """Connections the dynos hold (Redis clients, Postgres backends) and Redis memory
    (the whole server's: on a shared server, an upper bound)."""
    client = redis.Redis.from_url(services.redis_url)
    try:
        # The server may carry other databases' clients: count this database's only.
        db = str(client.connection_pool.connection_kwargs.get("db", 0))
        clients = sum(1 for c in client.client_list() if c.get("db") == db) - 1  # less this one
        memory = client.info("memory")["used_memory"]
    finally:
        client.close()
    with stats.cursor() as cur:
        (backends,) = scale_db.query_one(
            cur,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
    return {
        "redis_clients": int(clients),
        "redis_used_mib": round(memory / 2**20, 1),
        "postgres_connections": int(backends) - 1,  # less the sampler's
    }


def run(plan: Plan) -> dict[str, Any]:
    """Load the feeds once, then one measured run per worker count; drops the data after."""
    with ExitStack() as stack:
        admin = (
            stack.enter_context(scale_db.private_cluster())
            if plan.server == "private"
            else plan.server
        )
        db_url = scale_db.recreate_database(admin, plan.database)
        stack.callback(scale_db.drop_database, admin, plan.database)
        services = Services(db_url, plan.redis_url)
        _migrate(services)
        account = create_account(db_url)
        statements = scale_db.enable_statements(db_url)
        feedserver = Proc(
            "scale-feedserver",
            [
                sys.executable, "-m", "bench.feedserver", "--port", str(plan.feed_port),
                "--hosts", str(plan.hosts), "--items", "20",
            ],
            app_env(services),
        )  # fmt: skip
        stack.callback(feedserver.stop)
        loaded = time.monotonic()
        first_due = time.time() + plan.start_in()
        load_steps = scale_db.load_feeds(
            db_url,
            count=plan.feeds,
            hosts=plan.hosts,
            port=plan.feed_port,
            interval=plan.interval,
            start_in=plan.start_in(),
            subscriber=account.user_id,
        )
        load_s = time.monotonic() - loaded
        stats = scale_db.connect(db_url)
        load_sizes = scale_db.sizes(stats)
        stats.close()
        if plan.workers:
            time.sleep(max(0.0, first_due - time.time() - plan.warmup))
        waiting = time.monotonic()
        if plan.lock and plan.workers:
            # Taken only now: neither the load nor the wait for the first due time holds
            # up other benches. Feeds that come due while it waits are a backlog the first
            # run starts with (its claim lag says so).
            stack.enter_context(_held(plan.lock))
        lock_s = time.monotonic() - waiting
        runs = [measure(plan, services, db_url, count, feedserver) for count in plan.workers]
        return {
            "plan": asdict(plan),
            "load_s": round(load_s, 1),
            "load_steps_s": load_steps,
            "lock_wait_s": round(lock_s, 1),
            "load_sizes_mib": load_sizes,
            "pg_stat_statements": statements,
            "machine": describe(services),
            "runs": runs,
        }
    raise AssertionError("unreachable")


@contextmanager
def _held(path: str) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (as flock(1) does) until the block ends."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _migrate(services: Services) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=Path(__file__).resolve().parent.parent,
        env=app_env(services),
        check=True,
        capture_output=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1_000_000)
    parser.add_argument(
        "--workers",
        default="1,2,4,8",
        help="worker dyno counts, e.g. 1,2,4,8; '' only loads (load time and sizes)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--hosts", type=int, default=1000, help="loopback hosts the feeds use")
    parser.add_argument(
        "--server", default="private", help="'private' (a throwaway cluster) or an admin URL"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--feed-port", type=int, default=8700)
    parser.add_argument("--interval", type=int, default=INTERVAL, help="mean refresh interval, s")
    parser.add_argument("--label", default="", help="names the run in the output")
    parser.add_argument("--json", type=Path, help="also write the whole result here")
    parser.add_argument(
        "--lock",
        default="",
        help="flock this file for the measured runs only, once the load is done"
        " (instead of running the whole command under flock)",
    )
    args = parser.parse_args(argv)
    plan = Plan(
        feeds=args.feeds,
        workers=tuple(int(w) for w in args.workers.split(",") if w),
        seconds=args.seconds,
        warmup=args.warmup,
        hosts=args.hosts,
        server=args.server,
        redis_url=args.redis_url,
        feed_port=args.feed_port,
        interval=args.interval,
        label=args.label,
        lock=args.lock,
    )
    result = run(plan)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    machine = result["machine"]
    print(
        f"# {plan.label} {plan.feeds:,} feeds, {plan.seconds:.0f} s windows, load "
        f"{result['load_s']} s ({result['load_steps_s']}), lock waited "
        f"{result['lock_wait_s']} s; "
        f"{machine['cpu']}, {machine['cores']} cores, "
        f"{machine['ram_gib']} GiB, {machine['postgres']}"
    )
    print(f"# sizes after the load, MiB: {result['load_sizes_mib']}")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

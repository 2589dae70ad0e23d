"""Where the CPU goes while one worker process drains scenario 4's feeds.

    flock /tmp/feedqueue-bench.lock .venv/bin/python -m bench.drain_cost \\
        [--refresh] [--feeds 2000] [--env NAME=VALUE ...]

Queues ``--feeds`` fetches of feeds of 50 new items on the zero-latency feed server
(submissions, a job each; with ``--refresh``, feeds due for refresh, which the
scheduler claims in batches), starts one worker process (``WORKER_CONCURRENCY=1``, the
other settings at their defaults; ``--env`` changes one) and waits until every fetch
has finished. Prints feeds/s and, per feed, the CPU of the worker's own processes, of
its parser processes, of Postgres (every process of the server), Redis and the feed
server; the cores the whole box kept busy; and the parser's utilisation (feeds/s times
its CPU per feed: the share of the time it had a document and a core). Scenario 4's
efficiency is feeds/s against feedparser's rate; this says which process the feeds/s
waits for. Run it in turns with the code before a change: the box's speed moves.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import psutil

from bench import machine
from bench.cpu_windows import Reading, postgres_processes, read_cpu
from bench.data import seed_due_feeds, submit_feeds, wait_all_finished
from bench.stack import (
    FEED_HOSTS,
    Proc,
    Services,
    feed_base,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_worker,
)

PARSER_MARK = "parser_child"  # in a parser process's command line (parser_process._BOOT)


def redis_processes() -> list[psutil.Process]:
    """Every process of this machine's Redis server."""
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("redis")]


def servers(feedserver: Proc) -> dict[str, list[psutil.Process]]:
    """The processes a drain's feeds pass through besides the worker dyno."""
    return {
        "postgres": postgres_processes(),
        "redis": redis_processes(),
        "feedserver": feedserver.tree(),
    }


def worker_groups(worker: Proc) -> dict[str, list[psutil.Process]]:
    """The worker dyno's processes: its own (supervisor, worker, scheduler) and its
    parser processes."""
    groups: dict[str, list[psutil.Process]] = {"worker": [], "parser": []}
    for p in worker.tree():
        try:
            parser = PARSER_MARK in " ".join(p.cmdline())
        except psutil.NoSuchProcess:
            continue
        groups["parser" if parser else "worker"].append(p)
    return groups


def cpu_used(before: Reading, after: Reading) -> dict[str, float]:
    """CPU seconds each part used between two readings (cpu_windows.read_cpu). Unlike
    a window of scenario 1, a drain counts the processes started between them from
    nothing: the worker dyno, and the Postgres backends of its connections."""
    used: dict[str, float] = {}
    for pid, (part, cpu) in after.items():
        start = before[pid][1] if pid in before else 0.0
        used[part] = used.get(part, 0.0) + cpu - start
    return used


def summarise(
    cpu: dict[str, float], feeds: int, seconds: float, wall: float, box: float
) -> dict[str, Any]:
    """Per-feed figures from CPU seconds per group over a drain of ``feeds`` fetches
    that took ``seconds`` (first start to last end) in ``wall`` seconds of watching,
    while the box was busy for ``box`` CPU seconds."""
    rate = feeds / seconds
    return {
        "feeds": feeds,
        "seconds": round(seconds, 2),
        "feeds_per_s": round(rate, 1),
        "cpu_ms_per_feed": {name: round(s / feeds * 1000, 2) for name, s in cpu.items()},
        "parser_utilisation": round(rate * cpu.get("parser", 0.0) / feeds, 3),
        "busy_cores": round(box / wall, 2),
    }


def drain(services: Services, feeds: int, refresh: bool, env: dict[str, str]) -> dict[str, Any]:
    """One drain of ``feeds`` fetches by one worker process; the summary."""
    server = start_feedserver("--latency", "zero", "--items", "50")
    with running(server):
        reset_data(services)
        if refresh:
            seed_due_feeds(services, feed_base(), 1, feeds, etag=False, hosts=FEED_HOSTS)
        else:
            submit_feeds(services, feed_base(), 1, feeds, hosts=FEED_HOSTS)
        before = read_cpu(servers(server))
        worker = start_worker(services, WORKER_CONCURRENCY=1, **env)
        with running(worker):
            box, started = machine.box_busy(), time.monotonic()
            result = wait_all_finished(services, feeds, timeout=900)
            box, wall = machine.box_busy() - box, time.monotonic() - started
            cpu = cpu_used(before, read_cpu({**worker_groups(worker), **servers(server)}))
    if result.first_started is None or result.last_finished is None:
        raise RuntimeError("no fetch finished")
    span = result.last_finished - result.first_started
    return {**summarise(cpu, result.finished, span, wall, box), "failed": result.failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--refresh", action="store_true", help="scheduled refreshes, batched")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    services = start_services()
    try:
        out = {
            "machine": machine.describe(services),
            "command": "python -m bench.drain_cost " + " ".join(sys.argv[1:]),
            "path": "refreshes (batched jobs)" if args.refresh else "submissions (a job each)",
            "settings": env,
            **drain(services, args.feeds, args.refresh, env),
        }
    finally:
        services.close()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

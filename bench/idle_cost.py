"""What an idle worker dyno costs: its CPU, and the Redis commands it sends.

    flock /tmp/feedqueue-bench.lock .venv/bin/python -m bench.idle_cost [--seconds 30]

Starts a worker dyno (``python worker.py``, settings at their defaults) on an empty
bench database and queue, waits ``--settle`` seconds for its start to be over, then
for ``--seconds`` reads the CPU time of its process tree (supervisor, worker
processes, RQ's scheduler, parser processes) and Redis's command counters (``INFO
commandstats``: the whole Redis server, so nothing else may use it meanwhile; the
bench's own two reads are not counted). Prints the machine, CPU milliseconds per
second, commands per second, and the commands by name. A self-hosted reader is idle
most of its life: this is what it costs then.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import redis

from bench import machine
from bench.stack import reset_data, running, start_services, start_worker


def command_counts(client: redis.Redis) -> dict[str, int]:
    """Redis's calls per command name since its start."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def per_second(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    """The commands sent between two readings, per second, busiest first; the reading's
    own ``INFO`` is left out."""
    rates = {
        name: round((count - before.get(name, 0)) / seconds, 2)
        for name, count in after.items()
        if name != "info" and count > before.get(name, 0)
    }
    return dict(sorted(rates.items(), key=lambda kv: -kv[1]))


def run(args: Any) -> dict[str, Any]:
    """One idle worker dyno, measured for ``args.seconds``."""
    services = start_services()
    try:
        reset_data(services)
        client = redis.Redis.from_url(services.redis_url)
        worker = start_worker(services)
        with running(worker):
            time.sleep(args.settle)
            cpu_before, commands_before = worker.cpu_seconds(), command_counts(client)
            started = time.monotonic()
            time.sleep(args.seconds)
            cpu_after, commands_after = worker.cpu_seconds(), command_counts(client)
            seconds = time.monotonic() - started
        commands = per_second(commands_before, commands_after, seconds)
        return {
            "machine": machine.describe(services),
            "command": "python -m bench.idle_cost " + " ".join(sys.argv[1:]),
            "seconds": round(seconds, 1),
            "worker_cpu_ms_per_s": round((cpu_after - cpu_before) / seconds * 1000, 2),
            "redis_commands_per_s": round(sum(commands.values()), 1),
            "redis_commands_per_s_by_name": commands,
        }
    finally:
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to measure")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after the start")
    args = parser.parse_args(argv)
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scenario 1's submissions at chosen settings, kept-alive and with a new connection each.

    python -m bench.web_defaults [--seconds 30] [--rate 200] [--capacity] [--env K=V ...]

Every feed takes 5 s (as scenario 1); web and worker run with the bench's
environment (bench.stack.app_env) plus ``--env`` settings, so ``--env
PIN_CPUS=auto`` measures a default the bench itself overrides. Prints one JSON
line per run: POST /feeds at ``--rate`` per second over 64 kept-alive
connections, the same with ``Connection: close`` on every request
(bench/lua/post_feeds_new_connection.lua), and with ``--capacity`` the
closed-loop runs of scenario 2 (4, 8 and 16 connections). Each run has empty
tables and queues and a fresh web and worker dyno. Run it under the bench lock.
"""

from __future__ import annotations

import argparse
import itertools
import json

from bench.loadgen import LoadResult, run_wrk
from bench.stack import (
    feed_base,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_web,
    start_worker,
    web_url,
)

_offsets = itertools.count(1)


def _post(
    token: str, script: str, *, rate: float | None, connections: int, seconds: int
) -> LoadResult:
    return run_wrk(
        web_url("/feeds"),
        script,
        connections=connections,
        duration=seconds,
        rate=rate,
        env={
            "BENCH_FEED_BASE": feed_base(),
            "BENCH_PATH": "/feeds",
            "BENCH_FEED_OFFSET": str(next(_offsets) * 100_000_000),
            "BENCH_TOKEN": token,
        },
    )


def _row(name: str, result: LoadResult) -> None:
    print(
        json.dumps(
            {
                "run": name,
                "achieved_rate": round(result.achieved_rate, 1),
                "p50_ms": result.p50_ms,
                "p99_ms": result.p99_ms,
                "max_ms": result.max_ms,
                "errors": result.errors,
                "errors_by_kind": result.errors_by_kind,
                "loadavg": open("/proc/loadavg").read().split()[:3],
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--capacity", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], metavar="K=V")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    print(json.dumps({"env": extra, "loadavg": open("/proc/loadavg").read().split()[:3]}))
    services = start_services()
    try:
        reset_data(services)
        token = services.user.token
        runs = [("keepalive", "post_feeds.lua", args.rate, 64)]
        runs.append(("new_connection", "post_feeds_new_connection.lua", args.rate, 64))
        if args.capacity:
            runs += [(f"closed_loop_c{c}", "post_feeds.lua", None, c) for c in (4, 8, 16)]
        with running(start_feedserver("--latency", "fixed:5")):
            for _ in range(args.repeat):
                for name, script, rate, connections in runs:
                    # Empty tables and queues, and a fresh web and worker dyno, for each
                    # run: 200/s of 5 s feeds reach QUEUE_MAX_JOBS (3,000) within 15 s.
                    reset_data(services)
                    web = start_web(services, **extra)
                    worker = start_worker(services, **extra)
                    with running(web, worker):
                        result = _post(
                            token, script, rate=rate, connections=connections, seconds=args.seconds
                        )
                    _row(name, result)
    finally:
        services.close()


if __name__ == "__main__":
    main()

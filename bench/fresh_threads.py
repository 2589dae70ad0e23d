"""Freshness (scenario 6) by worker threads, and for new feeds as well as refreshes.

    flock /tmp/feedqueue-bench.lock python -m bench.fresh_threads --threads 16,48 \\
        --kinds refresh,new --feeds 6000 --seconds 30

One ``worker.py`` at a time (its other settings as the bench sets them) against the
feed server's realistic latency (median 300 ms, 5 % of feeds at 3 s, 1 % never
answering), as scenario 6 runs it, but with as many feeds as asked, so that the window
cannot run dry at a high rate (quick mode's 3,000 feeds last 40 s at 75/s). ``refresh``
seeds due feeds (scheduled refreshes, batched jobs); ``new`` submits them (a job each,
the first fetch of a new feed, `QUEUE_MAX_JOBS` raised to hold them). Prints one JSON
line per run: fetches per second and per hour in the window, the dyno's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os

from bench import worker_scenarios
from bench.data import seed_due_feeds, submit_feeds
from bench.stack import (
    Services,
    feed_base,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_worker,
)


def _load() -> list[str]:
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def run(services: Services, kind: str, feeds: int, seconds: int, threads: int) -> dict:
    """One worker.py with ``threads`` threads per process working ``feeds`` of ``kind``."""
    reset_data(services)
    env: dict[str, object] = {"WORKER_THREADS": threads, "QUEUE_MAX_JOBS": feeds * 2}
    if kind == "new":
        # The submit path's admission reads the environment (bench.stack.app_env).
        os.environ["QUEUE_MAX_JOBS"] = str(feeds * 2)
        submit_feeds(services, feed_base(), 1, feeds)
    else:
        seed_due_feeds(services, feed_base(), 1, feeds, etag=False)
    load = _load()
    proc = start_worker(services, "worker0", **env)
    with running(proc):
        window = worker_scenarios._window_rate(services, [proc], warmup=10, seconds=seconds)
        cpu = proc.cpu_seconds()
    return {
        "kind": kind,
        "threads": threads,
        "load_before": load,
        "load_after": _load(),
        "per_s": window["per_s"],
        "per_hour": window["per_hour_extrapolated"],
        "memory_peak_total_mib": window["memory_peak_total_mib"],
        "state": window["state"],
        "worker_cpu_s": round(cpu, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="16,48", help="comma-separated WORKER_THREADS")
    parser.add_argument("--kinds", default="refresh,new", help="refresh, new or both")
    parser.add_argument("--feeds", type=int, default=6000)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args(argv)
    services = start_services()
    try:
        feeds = start_feedserver(
            "--latency", "realistic:300:3:5:1", "--items", "20", "--change-rate", "0.2"
        )
        with running(feeds):
            for threads in (int(t) for t in args.threads.split(",")):
                for kind in args.kinds.split(","):
                    result = run(services, kind, args.feeds, args.seconds, threads)
                    print(json.dumps(result), flush=True)
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Peak memory per dyno at default settings under the freshness load (issue: basic dynos, 512 MB).

    python -m bench.dyno_memory [--feeds 20000] [--seconds 120]

One web dyno (gunicorn, its master and WEB_CONCURRENCY workers) and one worker
dyno (``worker.py``: supervisor, worker processes, RQ's scheduler and every
parser process) run with default settings, except those every bench sets
(bench.stack.app_env) and PIN_CPUS=false (as auto decides on a shared host). The worker runs
scenario 6's load (due feeds on a server with realistic latency); the web
answers submissions, status polls and feed pages meanwhile. Every 0.5 s each
dyno's process tree is sampled: the sum of RSS (what Heroku's memory metrics
count, shared pages once per process) and the sum of PSS (shared pages split
between the processes that share them: the memory the dyno really holds).
Prints the machine, the peaks and a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request

import psutil

from bench import machine
from bench.data import finished_between, seed_due_feeds
from bench.stack import (
    FEED_HOSTS,
    Proc,
    feed_base,
    feed_url,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_web,
    start_worker,
    web_url,
)

MIB = 2**20
#: Heroku's basic and standard-1X dynos: R14 above it.
QUOTA_MIB = 512


def tree_memory(proc: Proc) -> tuple[float, float, int]:
    """(sum of RSS, sum of PSS, processes) of ``proc``'s tree, in MiB."""
    rss = pss = 0.0
    count = 0
    for p in proc.tree():
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        rss += info.rss / MIB
        pss += info.pss / MIB
        count += 1
    return rss, pss, count


class Peaks(threading.Thread):
    """Samples the dynos' trees until stopped; keeps the peak sums."""

    def __init__(self, dynos: dict[str, Proc], every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.dynos = dynos
        self.every = every
        self.peak: dict[str, dict[str, float]] = {
            name: {"rss_mib": 0.0, "pss_mib": 0.0, "processes": 0} for name in dynos
        }
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for name, proc in self.dynos.items():
                rss, pss, count = tree_memory(proc)
                peak = self.peak[name]
                peak["rss_mib"] = round(max(peak["rss_mib"], rss), 1)
                peak["pss_mib"] = round(max(peak["pss_mib"], pss), 1)
                peak["processes"] = max(peak["processes"], count)
            self.stopped.wait(self.every)


def _web_load(stop: threading.Event, feeds: int, auth: dict[str, str]) -> dict[str, int]:
    """Submissions, status polls and pages, about 20 requests a second, each signed
    with ``auth`` (the bench user's token)."""
    counts = {"requests": 0, "errors": 0}
    paths = ["/api/feeds", "/status", "/", "/healthz"]
    i = 0
    while not stop.is_set():
        i += 1
        try:
            if i % 5 == 0:
                body = json.dumps({"url": feed_url(feeds + i)}).encode()
                request = urllib.request.Request(
                    web_url("/feeds"), body, {"Content-Type": "application/json", **auth}
                )
            else:
                request = urllib.request.Request(web_url(paths[i % len(paths)]), headers=auth)
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except OSError:
            counts["errors"] += 1
        counts["requests"] += 1
        stop.wait(0.05)
    return counts


def run(feeds: int, seconds: float) -> dict[str, object]:
    """Start the stack, load it, return the peaks."""
    services = start_services()
    try:
        reset_data(services)
        seed_due_feeds(services, feed_base(), 1, feeds, etag=False, hosts=FEED_HOSTS)
        server = start_feedserver(
            "--latency", "realistic:300:3:5:1", "--items", "20", "--change-rate", "0.2"
        )
        env = {"PIN_CPUS": "false"}
        with running(server):
            web = start_web(services, **env)
            worker = start_worker(services, **env)
            with running(web, worker):
                peaks = Peaks({"web": web, "worker": worker})
                peaks.start()
                stop = threading.Event()
                load: dict[str, int] = {}
                auth = services.user.headers()
                loader = threading.Thread(
                    target=lambda: load.update(_web_load(stop, feeds, auth)), daemon=True
                )
                loader.start()
                start = time.time()
                time.sleep(seconds)
                end = time.time()
                stop.set()
                loader.join(15)
                peaks.stopped.set()
                peaks.join(5)
                done = finished_between(services, start, end)
        return {
            "machine": machine.describe(services),
            "feeds": feeds,
            "seconds": round(end - start, 1),
            "fetches_finished": done,
            "web_requests": load,
            "peaks": peaks.peak,
        }
    finally:
        services.close()


def table(result: dict[str, object]) -> str:
    """The Markdown rows of docs/benchmarks.md's memory-per-dyno table."""
    rows = [
        "| dyno | processes (peak) | peak RSS MiB (sum) | peak PSS MiB (sum) | under 512 MB |",
        "|---|---|---|---|---|",
    ]
    for name, peak in result["peaks"].items():  # type: ignore[union-attr]
        fits = "yes" if peak["rss_mib"] < QUOTA_MIB else "**no**"
        rows.append(
            f"| {name} | {peak['processes']} | {peak['rss_mib']} | {peak['pss_mib']} | {fits} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    result = run(args.feeds, args.seconds)
    print(json.dumps(result, indent=2, default=str))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

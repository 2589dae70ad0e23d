"""Profile a scenario's processes with py-spy and print where the time goes.

``python -m bench.profile cpu|unchanged|web [--seconds 15]`` sets the scenario up
as bench.run does, records every process of the worker (or gunicorn) tree with
py-spy, and prints inclusive shares of the functions that matter.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data import seed_due_feeds, submit_feeds
from bench.loadgen import run_wrk
from bench.stack import (
    FEED_HOSTS,
    Proc,
    feed_base,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_web,
    start_worker,
    web_url,
)

# Inclusive shares are reported for stacks containing these frames (function names).
KEY_FRAMES = (
    "run_fetch",
    "run_fetch_batch",
    "run_one",
    "record_success",
    "finish_fetch",
    "claim_fetch",
    "acquire",
    "release",
    "fetch_feed",
    "download",
    "parse_feed",
    "feedparser.api:parse",
    "sanitize_html",
    "store_items",
    "_record_success",
    "_start",
    "lock_feed_state",
    "record_failure",
    "perform_job",
    "execute_job",
    "dequeue_job_and_maintain_ttl",
    "handle_job_success",
    "enqueue_due_refreshes",
    "create_fetch",
    "_enqueue_all",
    "enqueue_fetch",
    "mark_enqueued",
    "submit_feed",
    "submit_url",
    "fetch_status",
    "queue_position",
    "jsonify",
    "_check_request_limit",
    "format_exception",
    "Handler.handle",
    "emit",
    "commit",
    "Connection.execute",
    "_execute_context",
    "Redis.execute_command",
)


def record(procs: list[Proc], seconds: int, idle: bool, gil: bool = False) -> Path:
    """py-spy every process of the trees for ``seconds``; returns the merged raw file."""
    out = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    spies = []
    for proc in procs:
        for p in proc.tree():
            args = [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "-d",
                str(seconds),
                "-r",
                "100",
                "-f",
                "raw",
                "-o",
                str(out / f"{p.pid}.txt"),
                "-p",
                str(p.pid),
                "--threads",
                "--nonblocking",
            ]
            spies.append(
                subprocess.Popen(
                    args + (["--idle"] if idle else []) + (["--gil"] if gil else []),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    for spy in spies:
        spy.wait()
    return out


def summarise(folder: Path, top: int = 30) -> str:
    """Inclusive sample shares of KEY_FRAMES, and the hottest leaf functions."""
    inclusive: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for path in folder.glob("*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            frames = stack.split(";")[1:]
            total += n
            seen = {
                k
                for k in KEY_FRAMES
                for f in frames
                if f.startswith(k) or f" {k} " in f or f.split(" (")[0].endswith(k)
            }
            for k in seen:
                inclusive[k] += n
            if frames:
                leaves[frames[-1]] += n
    lines = [f"samples: {total} (folder {folder})", "", "inclusive share of samples:"]
    lines += [f"  {v / total:6.1%}  {k}" for k, v in inclusive.most_common()]
    lines += ["", "hottest leaf frames:"]
    lines += [f"  {v / total:6.1%}  {k}" for k, v in leaves.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("cpu", "cpu-refresh", "unchanged", "web"))
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL (CPU)"
    )
    args = parser.parse_args(argv)
    services = start_services()
    if args.scenario in ("cpu", "cpu-refresh"):
        feeds = start_feedserver("--latency", "zero", "--items", "50")
        with running(feeds):
            reset_data(services)
            if args.scenario == "cpu":
                submit_feeds(services, feed_base(), 1, 2000, hosts=FEED_HOSTS)
            else:
                seed_due_feeds(services, feed_base(), 1, 2000, etag=False, hosts=FEED_HOSTS)
            worker = start_worker(services, WORKER_CONCURRENCY=1)
            with running(worker):
                time.sleep(2)
                folder = record([worker], args.seconds, idle=False, gil=args.gil)
    elif args.scenario == "unchanged":
        feeds = start_feedserver("--latency", "zero")
        with running(feeds):
            reset_data(services)
            seed_due_feeds(services, feed_base(), 1, 20000, etag=True, hosts=FEED_HOSTS)
            worker = start_worker(services)
            with running(worker):
                time.sleep(5)
                folder = record([worker], args.seconds, idle=not args.gil, gil=args.gil)
    else:
        feeds = start_feedserver("--latency", "fixed:5")
        with running(feeds):
            reset_data(services)
            web = start_web(services)
            worker = start_worker(services)
            with running(web, worker):
                import threading

                load = threading.Thread(
                    target=run_wrk,
                    args=(web_url("/feeds"), "post_feeds.lua"),
                    kwargs={
                        "connections": 64,
                        "duration": args.seconds + 4,
                        "rate": 200,
                        "env": {
                            "BENCH_FEED_BASE": feed_base(),
                            "BENCH_TOKEN": services.user.token,
                        },
                    },
                )
                load.start()
                time.sleep(2)
                folder = record([web], args.seconds, idle=False, gil=args.gil)
                load.join()
    print(summarise(folder))
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

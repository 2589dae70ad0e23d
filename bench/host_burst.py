"""A burst of submissions for one popular host against the same burst spread over many.

    python -m bench.host_burst [--rate 100] [--seconds 25] [--hosts 6000]

Runs web and worker at the default settings (per-host politeness included: 2 fetches
at once and 60 a minute per host; bench.stack.app_env tunes none of it), submits
``--rate`` new feeds a second for ``--seconds`` with wrk, all on one loopback host,
then again spread over ``--hosts`` loopback hosts (the feed server's ``--hosts``).
``python -m bench.run --only host_burst`` runs the same at 200/s. For each it prints the
web's latency, how many job runs ended waiting for their host (RQ counts a job that
returns a retry among its worker's failed jobs: every bench feed succeeds, so these
are the deferrals), how many fetches finished, and the worker's CPU seconds and Redis
commands during the run: what a waiting job costs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Any

import psutil
import redis
from rq.worker_registration import REDIS_WORKER_KEYS

from bench import stack
from bench.loadgen import run_wrk
from bench.machine import describe
from bench.stack import (
    BACKLOG,
    Services,
    feed_base,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_web,
    start_worker,
    web_url,
)

#: The settings under test are the defaults, as bench.stack.app_env leaves them, but
#: for QUEUE_MAX_JOBS (bench.stack.BACKLOG): a one-host burst queues every submission,
#: past the default 3,000 within seconds at 200/s.
DEFAULTS: dict[str, object] = dict(BACKLOG)
_offsets = itertools.count(1)


def _job_counts(client: redis.Redis) -> tuple[int, int]:
    """Jobs the workers finished and those that ended in a retry (a deferral), summed."""
    done = deferred = 0
    for key in client.smembers(REDIS_WORKER_KEYS):
        ok, failed = client.hmget(key, "successful_job_count", "failed_job_count")
        done += int(ok or 0)
        deferred += int(failed or 0)
    return done, deferred


def burst(services: Services, *, rate: int, seconds: int, hosts: int) -> dict[str, Any]:
    """One run: ``rate`` submissions a second for ``seconds`` s over ``hosts`` hosts (0: one)."""
    reset_data(services)
    client = redis.Redis.from_url(services.redis_url)
    feeds = start_feedserver("--latency", "zero", hosts=hosts)
    with running(feeds):
        web = start_web(services, **DEFAULTS)
        worker = start_worker(services, **DEFAULTS)
        with running(web, worker):
            time.sleep(2)
            cpu_before = worker.cpu_seconds()
            commands_before = int(client.info("stats")["total_commands_processed"])
            env = {
                "BENCH_FEED_BASE": feed_base(),
                "BENCH_PATH": "/feeds",
                "BENCH_FEED_OFFSET": str(next(_offsets) * 100_000_000),
                "BENCH_TOKEN": services.user.token,
            }
            if hosts:
                env.update(BENCH_FEED_HOSTS=str(hosts), BENCH_FEED_PORT=str(stack.FEED_PORT))
            load = run_wrk(
                web_url("/feeds"),
                "post_feeds.lua",
                connections=64,
                duration=seconds,
                rate=rate,
                env=env,
            )
            done, deferred = _job_counts(client)
            out = {
                "hosts": hosts or 1,
                "load": load.as_dict(),
                "jobs_finished": done,
                "deferrals": deferred,
                "worker_cpu_s": round(worker.cpu_seconds() - cpu_before, 1),
                "redis_commands": int(client.info("stats")["total_commands_processed"])
                - commands_before,
                "waiting_for_host": int(client.zcard("feedqueue-bench:hostwait:jobs")),
            }
    client.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--hosts", type=int, default=6000, help="hosts of the spread run")
    args = parser.parse_args(argv)
    services = start_services()
    try:
        print(json.dumps({"machine": describe(services), "load_avg": psutil.getloadavg()}))
        print(json.dumps({"settings": DEFAULTS, "rate": args.rate, "seconds": args.seconds}))
        for hosts in (0, args.hosts):
            result = burst(services, rate=args.rate, seconds=args.seconds, hosts=hosts)
            load = result.pop("load")
            result.update(
                {k: load[k] for k in ("achieved_rate", "p50_ms", "p99_ms", "max_ms", "errors")},
                load_avg=psutil.getloadavg(),
            )
            print(json.dumps(result), flush=True)
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

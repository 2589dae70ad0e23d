"""Per-process resources of the worker dyno: settings, database, queues, fetch limits, host budget.

Jobs receive only a fetch id; everything else comes from here. A worker
process builds its context once at start (after any fork), so a job costs a
function call, not a re-import or a new connection pool. The jobs (app.jobs)
and the worker dyno's code (app.workers) both use it; it imports only the
layers below them (config, pipeline, storage, queue).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from app import budget as connection_budget
from app.config import Settings
from app.pipeline import FetchLimits
from app.queue.connection import bounded_redis
from app.queue.politeness import HostBudget
from app.queue.queues import Queues
from app.storage.db import Database

#: Seconds a worker thread waits for one of its process's pooled Redis connections.
WORKER_POOL_WAIT = 120


@dataclass
class JobContext:
    settings: Settings
    db: Database
    queues: Queues
    limits: FetchLimits
    budget: HostBudget
    pid: int

    def close(self) -> None:
        self.db.dispose()
        self.queues.redis.close()


def fetch_limits(settings: Settings) -> FetchLimits:
    """The pipeline's limits, from the app's settings."""
    return FetchLimits(
        connect_timeout=settings.fetch_connect_timeout,
        read_timeout=settings.fetch_read_timeout,
        deadline=settings.fetch_deadline,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        user_agent=settings.fetch_user_agent,
        allow_private_networks=settings.fetch_allow_private_networks,
        allowed_hosts=settings.fetch_allowed_hosts,
        allowed_ports=settings.fetch_allowed_ports,
        max_items=settings.fetch_max_items,
        max_items_read=settings.fetch_max_items_read,
        max_elements=settings.fetch_max_elements,
        max_depth=settings.fetch_max_depth,
        max_attribute_bytes=settings.fetch_max_attribute_bytes,
        max_field_bytes=settings.fetch_max_field_bytes,
        max_stored_bytes=settings.fetch_max_stored_bytes,
        parser_processes=settings.parser_processes,
        parser_memory_mb=settings.parser_memory_mb,
        parser_cpu_seconds=settings.parser_cpu_seconds,
    )


def build_context(
    settings: Settings | None = None, *, redis_pool: int | None = None, db_pool: int | None = None
) -> JobContext:
    """Create the resources a worker process needs.

    Its Redis and Postgres pools are bounded: by default the worker process's
    pools of the connection budget (app/budget.py); the supervisor asks for its own.
    """
    settings = settings or Settings.from_env()
    assert settings.database_url and settings.redis_url
    if redis_pool is None or db_pool is None:
        plan = connection_budget.plan(settings)
        redis_pool = redis_pool or plan.worker_redis_pool
        db_pool = db_pool or plan.worker_db_pool
    # Threads wait for a pooled connection rather than fail: a long wait is
    # contention (many threads, few connections, a busy CPU), never Redis being
    # down (that fails at connect), and an RQ worker thread that gets an error there ends.
    redis = bounded_redis(settings.redis_url, redis_pool, wait=WORKER_POOL_WAIT)
    return JobContext(
        settings=settings,
        # Threads share the pool: a job holds a connection for milliseconds at a
        # time and waits on the network without one.
        db=Database(settings.database_url, pool_size=db_pool),
        queues=Queues(redis, settings),
        limits=fetch_limits(settings),
        budget=HostBudget(
            redis,
            prefix=settings.queue_prefix,
            concurrency=settings.host_concurrency,
            per_minute=settings.host_per_minute,
            lease_seconds=settings.job_timeout,
        ),
        pid=os.getpid(),
    )


_context: JobContext | None = None


def get_context() -> JobContext:
    """This process's context, built on first use (and again after a fork)."""
    global _context
    if _context is None or _context.pid != os.getpid():
        _context = build_context()
    return _context


def set_context(context: JobContext | None) -> None:
    """Install a context built elsewhere (worker start-up, tests)."""
    global _context
    _context = context

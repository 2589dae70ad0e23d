"""The connection budget: how many Redis and Postgres connections each process may hold.

Heroku's small plans cap connections for the whole app (Key-Value Store mini:
20, Postgres essential-0: 20), shared by every process of every dyno, and
``heroku run`` or ``heroku pg:psql`` need a few more. This module computes, from
settings alone (no Flask, no connection), what every kind of process may hold:

- a web process (a gunicorn worker): one bounded Redis pool shared by its
  request threads and the rate limiter, one Redis and one Postgres connection
  for the readiness probe, and a hard-capped Postgres pool;
- a worker process: one connection for its single blocking dequeue, a bounded
  Redis pool for everything else its threads do, a hard-capped Postgres pool;
- per worker dyno, RQ's scheduler process and the supervisor.

Pools not set explicitly (``REDIS_POOL_SIZE``, ``DB_POOL_SIZE`` = 0) get the
largest size that fits the plan's limit less ``CONNECTION_RESERVE``, over
``WEB_DYNOS`` web and ``WORKER_DYNOS`` worker dynos. A configuration that
cannot fit raises :class:`BudgetError`, whose message names the setting to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.config import ConfigError, Settings, read_setting

#: Connections a process holds besides its pools (see the module docstring).
WEB_PROBE = 1  # /readyz: one Redis and one Postgres connection per web process
DEQUEUE = 1  # a worker process's one blocking dequeue
SCHEDULER_REDIS = 1  # RQ's scheduler process, one per worker dyno; no Postgres
SUPERVISOR_REDIS = 2  # the supervisor: housekeeping, recovery, published metrics
SUPERVISOR_DB = 2  # the supervisor's scheduler and reconciler queries

#: Largest derived pools: a worker process's threads hold a connection for a
#: round trip at a time; a web process's threads for a request at most.
WORKER_POOL_CAP = 4


class BudgetError(ConfigError):
    """The settings need more connections than the plan allows."""


@dataclass(frozen=True)
class Shape:
    """What the operator runs: dynos, processes and threads."""

    web_dynos: int
    worker_dynos: int
    web_concurrency: int
    web_threads: int
    worker_concurrency: int
    worker_threads: int

    @classmethod
    def of(cls, settings: Settings) -> Shape:
        """The formation the settings describe."""
        return cls.read(lambda name: getattr(settings, name))

    @classmethod
    def read(cls, get: Callable[[str], Any]) -> Shape:
        """The formation from ``get(setting name)``."""
        return cls(
            web_dynos=get("web_dynos"),
            worker_dynos=get("worker_dynos"),
            web_concurrency=get("web_concurrency"),
            web_threads=get("gunicorn_threads"),
            worker_concurrency=get("worker_concurrency"),
            worker_threads=get("worker_threads"),
        )

    @property
    def web_processes(self) -> int:
        return self.web_dynos * self.web_concurrency

    @property
    def worker_processes(self) -> int:
        return self.worker_dynos * self.worker_concurrency


@dataclass(frozen=True)
class Row:
    """One kind of process: how many run, and what each holds."""

    process: str
    count: int
    redis: int
    postgres: int


@dataclass(frozen=True)
class Budget:
    """The pools every process uses, and the totals they add up to."""

    shape: Shape
    redis_limit: int
    database_limit: int
    reserve: int
    web_redis_pool: int
    worker_redis_pool: int
    web_db_pool: int
    worker_db_pool: int

    def rows(self) -> list[Row]:
        """One row per kind of process, over the whole formation."""
        s = self.shape
        return [
            Row("web process", s.web_processes, self.web_redis_pool + WEB_PROBE,
                self.web_db_pool + WEB_PROBE),
            Row("worker process", s.worker_processes, DEQUEUE + self.worker_redis_pool,
                self.worker_db_pool),
            Row("RQ scheduler process", s.worker_dynos, SCHEDULER_REDIS, 0),
            Row("worker supervisor", s.worker_dynos, SUPERVISOR_REDIS, SUPERVISOR_DB),
        ]

    @property
    def redis_total(self) -> int:
        return sum(r.count * r.redis for r in self.rows())

    @property
    def database_total(self) -> int:
        return sum(r.count * r.postgres for r in self.rows())

    def table(self) -> str:
        """The budget as a Markdown table (logged at start-up, shown in the docs)."""
        lines = [
            "| process | count | Redis each | Postgres each |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r.process} | {r.count} | {r.redis} | {r.postgres} |" for r in self.rows()]
        lines.append(
            f"| **total** (limit - reserve) | | **{self.redis_total}** "
            f"({self.redis_limit} - {self.reserve}) | **{self.database_total}** "
            f"({self.database_limit} - {self.reserve}) |"
        )
        return "\n".join(lines)

    def summary(self) -> str:
        """One log line."""
        per = "; ".join(
            f"{r.count} x {r.process} ({r.redis} Redis, {r.postgres} Postgres)" for r in self.rows()
        )
        return (
            f"connection budget: Redis {self.redis_total} of {self.redis_limit}, "
            f"Postgres {self.database_total} of {self.database_limit} "
            f"(reserve {self.reserve}): {per}"
        )


def plan(settings: Settings) -> Budget:
    """The budget of these settings; raises :class:`BudgetError` when it cannot fit."""
    return _plan(lambda name: getattr(settings, name))


def plan_from_env(environ: Mapping[str, str] | None = None) -> Budget:
    """:func:`plan` from the environment alone, for gunicorn's master (which has no
    need of the database or Redis URLs that :class:`Settings` requires)."""
    return _plan(lambda name: read_setting(name, environ))


def _plan(get: Callable[[str], Any]) -> Budget:
    return compute(
        Shape.read(get),
        redis_limit=get("redis_max_connections"),
        database_limit=get("database_max_connections"),
        reserve=get("connection_reserve"),
        redis_pool=get("redis_pool_size"),
        db_pool=get("db_pool_size"),
    )


def compute(
    shape: Shape,
    *,
    redis_limit: int,
    database_limit: int,
    reserve: int,
    redis_pool: int = 0,
    db_pool: int = 0,
) -> Budget:
    """Pools for ``shape`` within the limits (a pool of 0 is derived)."""
    redis_fixed = (
        shape.web_processes * WEB_PROBE
        + shape.worker_processes * DEQUEUE
        + shape.worker_dynos * (SCHEDULER_REDIS + SUPERVISOR_REDIS)
    )
    db_fixed = shape.web_processes * WEB_PROBE + shape.worker_dynos * SUPERVISOR_DB
    web_r, worker_r = _pools(
        shape, redis_limit - reserve - redis_fixed, redis_pool, "REDIS",
        need=redis_fixed, limit=redis_limit, reserve=reserve,
    )
    web_d, worker_d = _pools(
        shape, database_limit - reserve - db_fixed, db_pool, "DATABASE",
        need=db_fixed, limit=database_limit, reserve=reserve,
    )
    return Budget(shape, redis_limit, database_limit, reserve, web_r, worker_r, web_d, worker_d)


def _pools(
    shape: Shape, room: int, fixed_pool: int, service: str, *, need: int, limit: int, reserve: int
) -> tuple[int, int]:
    """(web pool, worker pool) that fit in ``room`` connections.

    Every process of a kind gets the same pool, so growing the worker pool by one
    costs one connection per worker process of every dyno. Workers grow first
    (jobs are the throughput), then web, in turns, up to the caps.
    """
    web_n, worker_n = shape.web_processes, shape.worker_processes
    if fixed_pool:
        web, worker = fixed_pool, fixed_pool
    else:
        web, worker = 1, 1
    used = web_n * web + worker_n * worker
    if used > room:
        pool_var = "REDIS_POOL_SIZE" if service == "REDIS" else "DB_POOL_SIZE"
        raise BudgetError(
            f"{service}_MAX_CONNECTIONS={limit} cannot hold this formation: it needs "
            f"{need + used} connections plus CONNECTION_RESERVE={reserve}; lower WORKER_DYNOS "
            f"({shape.worker_dynos}), WEB_DYNOS ({shape.web_dynos}), WORKER_CONCURRENCY "
            f"({shape.worker_concurrency}), WEB_CONCURRENCY ({shape.web_concurrency})"
            + (f" or {pool_var} ({fixed_pool})" if fixed_pool else "")
            + f", or raise {service}_MAX_CONNECTIONS to your plan's limit"
        )
    if fixed_pool:
        return web, worker
    web_cap = shape.web_threads
    worker_cap = min(shape.worker_threads, WORKER_POOL_CAP)
    grew = True
    while grew:
        grew = False
        if worker < worker_cap and used + worker_n <= room:
            worker, used, grew = worker + 1, used + worker_n, True
        if web < web_cap and used + web_n <= room:
            web, used, grew = web + 1, used + web_n, True
    return web, worker


#: Heroku Key-Value Store and Postgres plans: their connection limits
#: (docs/operations.md says where these come from).
REDIS_PLANS = {"mini": 20, "premium-0": 40, "premium-2": 200}
POSTGRES_PLANS = {"essential-0": 20, "essential-2": 40, "standard-0": 120}


def largest_formation(
    redis_limit: int,
    database_limit: int,
    *,
    reserve: int,
    web_concurrency: int = 2,
    web_threads: int = 4,
    worker_concurrency: int = 2,
    worker_threads: int = 48,
    most: int = 50,
) -> Budget | None:
    """The formation with the most worker dynos (the feed throughput), then the most
    web dynos, that fits; None when not even one of each does."""
    best: Budget | None = None
    for worker in range(1, most + 1):
        for web in range(1, most + 1):
            shape = Shape(web, worker, web_concurrency, web_threads, worker_concurrency,
                          worker_threads)
            try:
                budget = compute(
                    shape, redis_limit=redis_limit, database_limit=database_limit, reserve=reserve
                )
            except BudgetError:
                break
            best = budget  # later ones have more workers, or as many and more web dynos
    return best

"""Backpressure: refuse new work before Redis runs out of memory.

Heroku Key-Value Store mini holds 25 MB with ``noeviction``: when it is full,
every write fails, the rate limiter's and RQ's included. A queued job costs a
few hundred bytes (measured by ``python -m bench.redis_memory``), so a queue
is held to ``QUEUE_MAX_JOBS`` waiting jobs, and all clients together to
``SUBMIT_GLOBAL_PER_MINUTE`` submissions. Over either, a submission is refused
(the web answers ``503 queue_full`` with Retry-After) and the scheduler leaves
due refreshes in Postgres, where they wait until the queue drains: nothing is
lost, only delayed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rq import Queue

from app.queue.politeness import waiting_jobs_key
from app.queue.queues import Queues

#: Seconds a client is asked to wait when the queue is too deep: long enough for
#: workers to drain a good part of it, short enough that a person retries.
FULL_RETRY_AFTER = 30


@dataclass(frozen=True)
class Full:
    """Why work was refused, and when to try again."""

    reason: str
    retry_after: int


def _budget_key(prefix: str, minute: int) -> str:
    return f"{prefix}-submit-budget:{minute}"


def admit_submission(queues: Queues, *, now: float | None = None) -> Full | None:
    """Count one submission against the global budget and check its queue's depth.

    One Redis round trip. Returns None to go ahead, else why not. The counter is
    charged even when the queue is full: a client that keeps retrying into a
    full queue uses up the minute's budget too, which is what protects Redis.
    Jobs waiting for a slot of their host (app.queue.politeness) count as queued:
    they hold their job in Redis as much as a queued one.
    """
    settings = queues.settings
    now = time.time() if now is None else now
    minute = int(now // 60)
    key = _budget_key(settings.queue_prefix, minute)
    pipe = queues.redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, 120)  # two windows: the counter outlives its minute, never more
    pipe.llen(queues.submissions.key)
    pipe.zcard(waiting_jobs_key(settings.queue_prefix))
    count, _, queued, waiting = pipe.execute()
    depth = queued + waiting
    if depth >= settings.queue_max_jobs:
        return Full(
            f"The job queue holds {depth} jobs, its limit (QUEUE_MAX_JOBS).", FULL_RETRY_AFTER
        )
    limit = settings.submit_global_per_minute
    if limit and count > limit:
        return Full(
            f"More than {limit} feeds were submitted this minute (SUBMIT_GLOBAL_PER_MINUTE).",
            max(1, int((minute + 1) * 60 - now) + 1),
        )
    return None


def room_in(queues: Queues, queue: Queue, max_jobs: int) -> int:
    """How many more jobs ``queue`` may take before it holds ``max_jobs`` (never < 0);
    jobs waiting for a slot of their host count as held."""
    pipe = queues.redis.pipeline(transaction=False)
    pipe.llen(queue.key)
    pipe.zcard(waiting_jobs_key(queues.settings.queue_prefix))
    queued, waiting = pipe.execute()
    return max(0, max_jobs - queued - waiting)

"""RQ registry maintenance that only the worker dyno does: forgetting and finding jobs.

The supervisor's recovery of a dead worker's job and the reconciler ask RQ
which jobs it really holds, and remove every trace of a job before it is
enqueued anew. The web never needs any of this.
"""

from __future__ import annotations

import time

from rq import Queue
from rq.job import Job, JobStatus

from app.queue.queues import Queues


def forget_job(queues: Queues, job_id: str) -> None:
    """Remove every trace of a job from RQ's registries, before enqueueing it anew."""
    redis = queues.redis
    for queue in queues.fetch_queues:
        started = queue.started_job_registry
        # Started entries are "<job id>:<execution id>" and need no Job hash.
        stale = [
            entry
            for entry in redis.zrange(started.key, 0, -1)
            if started.parse_job_id(entry.decode()) == job_id
        ]
        if stale:
            redis.zrem(started.key, *stale)
        for registry in (
            queue.failed_job_registry,
            queue.scheduled_job_registry,
            queue.finished_job_registry,
        ):
            registry.remove(job_id)
        queue.remove(job_id)
        # A worker that died between taking the job and starting it leaves the id
        # in RQ's intermediate list; RQ's clean-up would later fail the job we
        # are about to enqueue again.
        queue.intermediate_queue.remove(job_id)


def drop_job(queues: Queues, job_id: str) -> None:
    """Forget a job and delete it: its fetches have been given jobs of their own."""
    forget_job(queues, job_id)
    queues.redis.delete(Job.key_for(job_id))


def jobs_waiting(queues: Queues, job_ids: list[str]) -> set[str]:
    """The ones of ``job_ids`` that RQ really holds: in their queue's list, scheduled,
    or being run by a worker whose claim on them has not expired (a batch at work).

    A job's status alone is not proof: a job popped by a client that died before
    it could start it still says "queued" but is nowhere. Each queue's list is read
    once for all the ids, not searched once per id: the reconciler asks about
    hundreds of jobs behind queues of thousands.
    """
    redis = queues.redis
    with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(Job.key_for(job_id), "status", "origin")
        found = pipe.execute()
    by_queue: dict[tuple[str, str], list[str]] = {}
    for job_id, (status, origin) in zip(job_ids, found, strict=True):
        if status is not None and origin is not None:
            by_queue.setdefault((origin.decode(), status.decode()), []).append(job_id)
    now = time.time()
    waiting: set[str] = set()
    for (origin, status), ids in by_queue.items():
        queue = Queue(origin, connection=redis)
        if status == JobStatus.QUEUED:
            held = {raw.decode() for raw in redis.lrange(queue.key, 0, -1)}
        elif status == JobStatus.SCHEDULED:
            scheduled = queue.scheduled_job_registry.key
            held = {raw.decode() for raw in redis.zrange(scheduled, 0, -1)}
        elif status == JobStatus.STARTED:
            started = queue.started_job_registry
            # Entries are "<job id>:<execution id>", scored with their expiry time.
            held = {
                started.parse_job_id(entry.decode())
                for entry, score in redis.zrange(started.key, 0, -1, withscores=True)
                if score >= now
            }
        elif status == JobStatus.DEFERRED:
            held = set(ids)
        else:
            continue
        waiting.update(job_id for job_id in ids if job_id in held)
    return waiting

"""Redis connections and the RQ queues that carry fetch jobs.

Two queues: submissions (a person is waiting) ahead of refreshes (the
scheduler's background work). Workers listen to both in that order, so a new
subscription shows its items quickly even behind a large refresh backlog.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus

from app.config import Settings, redis_client_options

JOB_FUNC = "app.jobs.fetch.run_fetch"
BATCH_FUNC = "app.jobs.batch.run_fetch_batch"


def redis_from_url(url: str, **overrides: object) -> Redis:
    """A Redis client for ``url`` with the options config gives it (``overrides`` win)."""
    return Redis.from_url(url, **{**redis_client_options(url), **overrides})  # type: ignore[arg-type]


class Queues:
    """The app's queues on one Redis connection."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        prefix = settings.queue_prefix
        self.submissions = Queue(f"{prefix}-submissions", connection=redis)
        self.refresh = Queue(f"{prefix}-refresh", connection=redis)

    @property
    def in_priority_order(self) -> list[Queue]:
        """What a worker listens to, most urgent first."""
        return [self.submissions, self.refresh]

    def for_trigger(self, trigger: str) -> Queue:
        return self.refresh if trigger == "refresh" else self.submissions

    def forget_job(self, job_id: str) -> None:
        """Remove every trace of a job from RQ's registries, before enqueueing it anew."""
        for queue in self.in_priority_order:
            started = queue.started_job_registry
            # Started entries are "<job id>:<execution id>" and need no Job hash.
            stale = [
                entry
                for entry in self.redis.zrange(started.key, 0, -1)
                if started.parse_job_id(entry.decode()) == job_id
            ]
            if stale:
                self.redis.zrem(started.key, *stale)
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

    def drop_job(self, job_id: str) -> None:
        """Forget a job and delete it: its fetches have been given jobs of their own."""
        self.forget_job(job_id)
        self.redis.delete(Job.key_for(job_id))

    def position(self, job_id: str, trigger: str, *, just_enqueued: bool = False) -> int | None:
        """How many jobs wait ahead of this one in its queue; None when it is not queued
        there (already taken, or scheduled for a retry).

        Redis finds it by walking the list; a job ``just_enqueued`` is looked for from
        the tail, where it was pushed, instead of behind the whole backlog (0.2 ms of
        Redis's single thread per submission at 12,000 queued, growing with the queue).
        """
        key = self.for_trigger(trigger).key
        return self.redis.lpos(key, job_id, rank=-1 if just_enqueued else None)

    def jobs_waiting(self, job_ids: list[str]) -> set[str]:
        """The ones of ``job_ids`` that RQ really holds: in their queue's list, scheduled,
        or being run by a worker whose claim on them has not expired (a batch at work).

        A job's status alone is not proof: a job popped by a client that died before
        it could start it still says "queued" but is nowhere. Each queue's list is read
        once for all the ids, not searched once per id: the reconciler asks about
        hundreds of jobs behind queues of thousands.
        """
        with self.redis.pipeline(transaction=False) as pipe:
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
            queue = Queue(origin, connection=self.redis)
            if status == JobStatus.QUEUED:
                held = {raw.decode() for raw in self.redis.lrange(queue.key, 0, -1)}
            elif status == JobStatus.SCHEDULED:
                scheduled = queue.scheduled_job_registry.key
                held = {raw.decode() for raw in self.redis.zrange(scheduled, 0, -1)}
            elif status == JobStatus.STARTED:
                started = queue.started_job_registry
                # Entries are "<job id>:<execution id>", scored with their expiry time.
                held = {
                    started.parse_job_id(entry.decode())
                    for entry, score in self.redis.zrange(started.key, 0, -1, withscores=True)
                    if score >= now
                }
            elif status == JobStatus.DEFERRED:
                held = set(ids)
            else:
                continue
            waiting.update(job_id for job_id in ids if job_id in held)
        return waiting

    def _job_options(self) -> dict[str, object]:
        retries = self.settings.fetch_retries
        return {
            "timeout": self.settings.job_timeout,
            # Results live in Postgres: RQ need not store them (0 = delete the job when done).
            "result_ttl": 0,
            "failure_ttl": 7 * 24 * 3600,
            # Retries of a crashed job (a bug, a database outage); failed fetches
            # are retried by the job itself, see app.jobs.fetch.
            "retry": Retry(max=retries, interval=[10, 30, 90][:retries] or 10) if retries else None,
        }

    def _fetch_job(self, fetch_id: uuid.UUID) -> dict[str, object]:
        """Keyword arguments of ``enqueue``/``enqueue_in`` for a fetch's own job."""
        options = self._job_options()
        return {
            "job_id": str(fetch_id),
            "job_timeout": options.pop("timeout"),
            "description": f"fetch {fetch_id}",
            **options,
        }

    def enqueue_batches(
        self, batches: dict[uuid.UUID, list[uuid.UUID]], *, at_front: bool = False
    ) -> None:
        """Enqueue committed refresh fetches, many per job, in one Redis round trip.

        ``batches`` maps a batch job id to the fetches it carries (their rows name it).
        """
        options = self._job_options()
        self.refresh.enqueue_many(
            [
                Queue.prepare_data(
                    BATCH_FUNC,
                    args=(str(job_id), [str(fetch_id) for fetch_id in fetch_ids]),
                    job_id=str(job_id),
                    description=f"refresh {len(fetch_ids)} feeds",
                    at_front=at_front,
                    **options,  # type: ignore[arg-type]
                )
                for job_id, fetch_ids in batches.items()
            ]
        )

    def enqueue_fetch_in(self, fetch_id: uuid.UUID, trigger: str, seconds: float) -> None:
        """Schedule the fetch's own job to run in ``seconds`` (a deferral or a retry)."""
        self.for_trigger(trigger).enqueue_in(
            timedelta(seconds=seconds), JOB_FUNC, str(fetch_id), **self._fetch_job(fetch_id)
        )

    def enqueue_fetch(self, fetch_id: uuid.UUID, trigger: str, *, at_front: bool = False) -> None:
        """Put the fetch's job on its queue; the job id is the fetch id.

        Call only after the fetch row is committed: the worker may pick the
        job up before this function returns.
        """
        self.for_trigger(trigger).enqueue(
            JOB_FUNC, str(fetch_id), at_front=at_front, **self._fetch_job(fetch_id)
        )

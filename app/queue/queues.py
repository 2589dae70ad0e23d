"""The RQ queues that carry fetch jobs, and the one way to put jobs on them.

Two queues for fetches: submissions (a person is waiting) ahead of refreshes (the
scheduler's background work), and a third, last, for feed icon searches
(decoration, see :mod:`app.queue.icons`). Workers listen to all three in that
order, so a new subscription shows its items quickly even behind a large refresh
backlog, and an icon is looked for only when no fetch is waiting.
Used by the web (submissions, queue positions) and by the worker dyno alike;
what only the workers do to RQ's registries is in :mod:`app.queue.registry`.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry

from app.config import Settings

#: How long a position read with the enqueue answers :meth:`Queues.position` for that job.
POSITION_FRESH = 1.0

#: Longest a job may wait in Redis before its hash expires. Its fetch stays queued
#: in Postgres, where the reconciler finds it without a job and enqueues it again:
#: no job hash lives in Redis for ever, even one whose queue nobody works.
QUEUED_JOB_TTL = 24 * 3600

JOB_FUNC = "app.jobs.fetch.run_fetch"
BATCH_FUNC = "app.jobs.batch.run_fetch_batch"


class Queues:
    """The app's queues on one Redis connection."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        prefix = settings.queue_prefix
        self.submissions = Queue(f"{prefix}-submissions", connection=redis)
        self.refresh = Queue(f"{prefix}-refresh", connection=redis)
        self.icons = Queue(f"{prefix}-icons", connection=redis)
        # Per thread: the job this thread just enqueued, its queue and position, and when.
        self._enqueued = threading.local()

    @property
    def in_priority_order(self) -> list[Queue]:
        """What a worker listens to, most urgent first."""
        return [self.submissions, self.refresh, self.icons]

    @property
    def fetch_queues(self) -> list[Queue]:
        """The queues that carry fetch jobs (the only ones a fetch's job is looked for in)."""
        return [self.submissions, self.refresh]

    def for_trigger(self, trigger: str) -> Queue:
        """The queue of a fetch with this trigger: refreshes wait behind submissions."""
        return self.refresh if trigger == "refresh" else self.submissions

    def position(self, job_id: str, trigger: str, *, just_enqueued: bool = False) -> int | None:
        """How many jobs wait ahead of this one in its queue; None when it is not queued
        there (already taken, or scheduled for a retry).

        Redis finds it by walking the list; a job ``just_enqueued`` is looked for from
        the tail, where it was pushed, instead of behind the whole backlog (0.2 ms of
        Redis's single thread per submission at 12,000 queued, growing with the queue).
        """
        if just_enqueued:
            last = getattr(self._enqueued, "last", None)
            self._enqueued.last = None
            # The enqueue read it in its own round trip (see enqueue_fetch).
            if last is not None and last[:2] == (job_id, trigger):
                if time.monotonic() - last[3] < POSITION_FRESH:
                    return last[2]
        key = self.for_trigger(trigger).key
        return self.redis.lpos(key, job_id, rank=-1 if just_enqueued else None)

    def _job_options(self) -> dict[str, object]:
        retries = self.settings.fetch_retries
        return {
            "timeout": self.settings.job_timeout,
            "ttl": QUEUED_JOB_TTL,
            # Results live in Postgres: RQ need not store them (0 = delete the job when done).
            "result_ttl": 0,
            "failure_ttl": 7 * 24 * 3600,
            # Retries of a crashed job (a bug, a database outage); failed fetches
            # are retried by the job itself, see app.jobs.fetch.
            "retry": Retry(max=retries, interval=[10, 30, 90][:retries] or 10) if retries else None,
        }

    def _fetch_job(self, fetch_id: uuid.UUID) -> dict[str, object]:
        """Keyword arguments of ``enqueue``/``enqueue_in`` for a fetch's own job.

        The job takes no argument: its id is the fetch id. With the id as an argument
        too, RQ's serialised call (its ``data`` field) is 84 bytes, past Redis's
        64-byte limit for a compact hash (``hash-max-listpack-value``), and the job's
        hash took 1,824 bytes instead of 536 (``MEMORY USAGE``).
        """
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
            timedelta(seconds=seconds), JOB_FUNC, **self._fetch_job(fetch_id)
        )

    def enqueue_fetch(
        self, fetch_id: uuid.UUID, trigger: str, *, at_front: bool = False
    ) -> int | None:
        """Put the fetch's job on its queue; the job id is the fetch id. Returns the
        jobs ahead of it, read in the same round trip (None: already taken).

        Call only after the fetch row is committed: the worker may pick the
        job up before this function returns. One round trip: RQ's registration of
        the queue, the job and its push, and the position, in one transaction (RQ
        alone sends the first apart, and the position would be a third).
        """
        queue = self.for_trigger(trigger)
        job_id = str(fetch_id)
        with self.redis.pipeline() as pipe:
            queue.enqueue(JOB_FUNC, at_front=at_front, pipeline=pipe, **self._fetch_job(fetch_id))
            pipe.lpos(queue.key, job_id, rank=1 if at_front else -1)
            position = pipe.execute()[-1]
        self._enqueued.last = (job_id, trigger, position, time.monotonic())
        return position

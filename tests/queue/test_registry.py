"""What the reconciler asks RQ: which jobs it really holds."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.context import JobContext
from app.queue.queues import JOB_FUNC
from app.queue.registry import jobs_waiting


def _enqueue(ctx: JobContext) -> str:
    job_id = str(uuid.uuid4())
    ctx.queues.enqueue_fetch(uuid.UUID(job_id), "submitted")
    return job_id


def test_a_job_in_its_queue_list_is_held(job_context: JobContext) -> None:
    job_id = _enqueue(job_context)
    assert jobs_waiting(job_context.queues, [job_id]) == {job_id}


def test_a_job_that_says_queued_but_left_the_list_is_not_held(job_context: JobContext) -> None:
    # What a client that died after BLPOP leaves behind.
    job_id = _enqueue(job_context)
    queue = job_context.queues.submissions
    queue.connection.lrem(queue.key, 0, job_id)
    assert jobs_waiting(job_context.queues, [job_id]) == set()


def test_unknown_jobs_are_not_held(job_context: JobContext) -> None:
    assert jobs_waiting(job_context.queues, [str(uuid.uuid4())]) == set()


def test_a_scheduled_job_is_held(job_context: JobContext) -> None:
    job_id = str(uuid.uuid4())
    job_context.queues.enqueue_fetch_in(uuid.UUID(job_id), "refresh", 60)
    assert jobs_waiting(job_context.queues, [job_id]) == {job_id}


def test_many_jobs_are_answered_together(job_context: JobContext) -> None:
    held = [_enqueue(job_context) for _ in range(50)]
    gone = _enqueue(job_context)
    queue = job_context.queues.submissions
    queue.connection.lrem(queue.key, 0, gone)
    scheduled = job_context.queues.refresh.enqueue_in(timedelta(seconds=60), JOB_FUNC, "x").id
    assert jobs_waiting(job_context.queues, [*held, gone, scheduled]) == {*held, scheduled}

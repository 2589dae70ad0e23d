"""What the web and the reconciler ask RQ: where a job waits, and which jobs it really holds."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.jobs.context import JobContext
from app.queue import JOB_FUNC


def _enqueue(ctx: JobContext) -> str:
    job_id = str(uuid.uuid4())
    ctx.queues.enqueue_fetch(uuid.UUID(job_id), "submitted")
    return job_id


def test_a_job_in_its_queue_list_is_held(job_context: JobContext) -> None:
    job_id = _enqueue(job_context)
    assert job_context.queues.jobs_waiting([job_id]) == {job_id}


def test_a_job_that_says_queued_but_left_the_list_is_not_held(job_context: JobContext) -> None:
    # What a client that died after BLPOP leaves behind.
    job_id = _enqueue(job_context)
    queue = job_context.queues.submissions
    queue.connection.lrem(queue.key, 0, job_id)
    assert job_context.queues.jobs_waiting([job_id]) == set()


def test_unknown_jobs_are_not_held(job_context: JobContext) -> None:
    assert job_context.queues.jobs_waiting([str(uuid.uuid4())]) == set()


def test_a_scheduled_job_is_held(job_context: JobContext) -> None:
    job_id = str(uuid.uuid4())
    job_context.queues.enqueue_fetch_in(uuid.UUID(job_id), "refresh", 60)
    assert job_context.queues.jobs_waiting([job_id]) == {job_id}


def test_many_jobs_are_answered_together(job_context: JobContext) -> None:
    held = [_enqueue(job_context) for _ in range(50)]
    gone = _enqueue(job_context)
    queue = job_context.queues.submissions
    queue.connection.lrem(queue.key, 0, gone)
    scheduled = job_context.queues.refresh.enqueue_in(timedelta(seconds=60), JOB_FUNC, "x").id
    assert job_context.queues.jobs_waiting([*held, gone, scheduled]) == {*held, scheduled}


def test_a_jobs_position_counts_the_jobs_ahead_from_either_end(job_context: JobContext) -> None:
    jobs = [_enqueue(job_context) for _ in range(5)]
    queues = job_context.queues
    for looked_for_from_the_tail in (False, True):
        assert [
            queues.position(job_id, "submitted", just_enqueued=looked_for_from_the_tail)
            for job_id in jobs
        ] == [0, 1, 2, 3, 4]
    assert queues.position(str(uuid.uuid4()), "submitted", just_enqueued=True) is None

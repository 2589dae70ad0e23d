"""The enqueue API: where a job waits in its queue."""

from __future__ import annotations

import uuid

from app.context import JobContext


def _enqueue(ctx: JobContext) -> str:
    job_id = str(uuid.uuid4())
    ctx.queues.enqueue_fetch(uuid.UUID(job_id), "submitted")
    return job_id


def test_a_jobs_position_counts_the_jobs_ahead_from_either_end(job_context: JobContext) -> None:
    jobs = [_enqueue(job_context) for _ in range(5)]
    queues = job_context.queues
    for looked_for_from_the_tail in (False, True):
        assert [
            queues.position(job_id, "submitted", just_enqueued=looked_for_from_the_tail)
            for job_id in jobs
        ] == [0, 1, 2, 3, 4]
    assert queues.position(str(uuid.uuid4()), "submitted", just_enqueued=True) is None

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


def test_an_enqueue_reads_the_jobs_position_in_its_own_round_trip(job_context: JobContext) -> None:
    queues = job_context.queues
    _enqueue(job_context)
    fetch_id = uuid.uuid4()
    assert queues.enqueue_fetch(fetch_id, "submitted") == 1
    queues.redis.lpop(queues.submissions.key)  # a worker took the job ahead meanwhile
    # The position read with the enqueue answers, once: Redis is not asked again.
    assert queues.position(str(fetch_id), "submitted", just_enqueued=True) == 1
    assert queues.position(str(fetch_id), "submitted", just_enqueued=True) == 0


def test_a_job_enqueued_at_the_front_is_first(job_context: JobContext) -> None:
    _enqueue(job_context)
    assert job_context.queues.enqueue_fetch(uuid.uuid4(), "submitted", at_front=True) == 0


def test_an_enqueued_job_registers_its_queue_with_rq(job_context: JobContext) -> None:
    queues = job_context.queues
    _enqueue(job_context)
    assert queues.submissions.key.encode() in queues.redis.smembers("rq:queues")


def test_a_queued_fetch_job_is_kept_in_redis_compact_hash_encoding(job_context: JobContext) -> None:
    # Every field under 64 bytes: Redis keeps the hash as a listpack (536 bytes, not 1,824).
    job_id = _enqueue(job_context)
    assert job_context.queues.redis.object("encoding", f"rq:job:{job_id}") == b"listpack"

"""Taking the next waiting job and its hash in one round trip (app/workers/popjob.py)."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from app.workers.popjob import pop_ready
from app.workers.rqworker import FeedWorker


def _queues(redis: Redis) -> tuple[Queue, Queue]:
    return Queue("pop-first", connection=redis), Queue("pop-second", connection=redis)


def test_a_job_of_the_first_queue_is_taken_before_one_of_the_second(redis: Redis) -> None:
    first, second = _queues(redis)
    later = second.enqueue("builtins.len", "x")
    sooner = first.enqueue("builtins.len", "y")
    worker = FeedWorker([first, second], connection=redis)
    taken = pop_ready(worker, redis)
    assert taken is not None
    job, queue = taken
    assert (job.id, queue.name, job.args) == (sooner.id, first.name, ("y",))
    assert first.count == 0 and second.job_ids == [later.id]


def test_a_job_whose_hash_expired_is_passed_over(redis: Redis) -> None:
    first, second = _queues(redis)
    gone = first.enqueue("builtins.len", "x")
    kept = first.enqueue("builtins.len", "y")
    redis.delete(gone.key)
    taken = pop_ready(FeedWorker([first, second], connection=redis), redis)
    assert taken is not None and taken[0].id == kept.id
    assert first.count == 0


def test_nothing_is_taken_from_empty_queues(redis: Redis) -> None:
    assert pop_ready(FeedWorker(list(_queues(redis)), connection=redis), redis) is None

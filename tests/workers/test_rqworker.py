"""FeedWorker's Redis bookkeeping: heartbeats and state without repeated round trips."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.results import Result

from app.queue.politeness import HostBudget, HostWait, Lease
from app.workers.rqworker import FeedWorker


def _worker(redis: Redis) -> FeedWorker:
    worker = FeedWorker([Queue("rqworker-test", connection=redis)], connection=redis)
    worker.register_birth()
    return worker


def _beat(redis: Redis, worker: FeedWorker) -> bytes | None:
    return redis.hget(worker.key, "last_heartbeat")  # type: ignore[return-value]


def test_a_heartbeat_refreshes_the_workers_key_and_its_expiry(redis: Redis) -> None:
    worker = _worker(redis)
    redis.hdel(worker.key, "last_heartbeat")
    redis.persist(worker.key)
    worker.heartbeat()
    assert _beat(redis, worker) is not None
    assert 0 < redis.ttl(worker.key) <= worker.worker_ttl + 60


def test_heartbeats_closer_than_heartbeat_every_are_not_sent(redis: Redis) -> None:
    worker = _worker(redis)
    worker.heartbeat()
    redis.hdel(worker.key, "last_heartbeat")
    worker.heartbeat()  # RQ sends one before and after every job
    assert _beat(redis, worker) is None
    worker.heartbeat_every = 0
    worker.heartbeat()
    assert _beat(redis, worker) is not None


def test_a_heartbeat_with_its_own_timeout_is_always_sent(redis: Redis) -> None:
    worker = _worker(redis)
    worker.heartbeat()
    worker.heartbeat(30)
    assert 0 < redis.ttl(worker.key) <= 30


def test_the_state_is_written_only_when_it_changes(redis: Redis) -> None:
    worker = _worker(redis)
    worker.set_state("idle")
    redis.hdel(worker.key, "state")
    worker.set_state("idle")  # RQ marks a worker idle after a job and again to listen
    assert redis.hget(worker.key, "state") is None
    worker.set_state("busy")
    assert redis.hget(worker.key, "state") == b"busy"


def wait_for_a_busy_host() -> HostWait:
    """A job whose host is over budget (what app.jobs.fetch returns then)."""
    return HostWait("a.example", 1.0)


def test_a_job_waiting_for_its_host_is_scheduled_and_listed_and_keeps_no_result(
    redis: Redis,
) -> None:
    budget = HostBudget(redis, prefix="t", concurrency=1, per_minute=100, lease_seconds=60)
    assert isinstance(budget.acquire("a.example"), Lease)
    queue = Queue("rqworker-test", connection=redis)
    job = queue.enqueue(f"{__name__}.wait_for_a_busy_host", result_ttl=0)
    worker = FeedWorker([queue], connection=redis, host_budget=budget)
    worker.work(burst=True)
    assert queue.scheduled_job_registry.get_job_ids() == [job.id]
    assert budget.waiting() == 1
    # No record of the wait: RQ's retry would keep a result stream and the pickled
    # value in the job's hash, which would lose its compact encoding.
    assert not redis.exists(Result.get_key(job.id))
    assert not redis.hexists(Job.key_for(job.id), "result")

"""FeedWorker's Redis bookkeeping: heartbeats and state without repeated round trips."""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis
from redis.connection import AbstractConnection
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job, JobStatus
from rq.results import Result

from app.config import Settings
from app.queue.politeness import HostBudget, HostWait, Lease
from app.workers.dequeue import SharedDequeue
from app.workers.rqworker import FeedWorker
from tests.conftest import wait_for


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


def test_an_idle_worker_thread_does_not_beat_at_each_wake_up(
    redis: Redis, settings: Settings
) -> None:
    # The idle thread in the dequeue's BLPOP wakes every idle_wakeup s to look for a
    # stop request; a beat at each wake-up of 48 threads kept Redis busy for nothing.
    dequeue = SharedDequeue(settings.redis_url or "")
    worker = FeedWorker(
        [Queue("rqworker-test", connection=redis)],
        connection=redis,
        threaded=True,
        dequeue=dequeue,
    )
    worker.register_birth()
    worker.idle_wakeup = 1
    stopped: list[bool] = []

    def listen() -> None:
        with pytest.raises(StopRequested):
            worker.dequeue_job_and_maintain_ttl(timeout=1)
        stopped.append(True)

    listener = threading.Thread(target=listen)
    listener.start()
    wait_for(lambda: _beat(redis, worker), timeout=5)
    redis.hdel(worker.key, "last_heartbeat")
    time.sleep(2.5)  # two more wake-ups
    worker.stop_soon()
    listener.join(5)
    assert stopped == [True]
    assert _beat(redis, worker) is None
    assert redis.ttl(worker.key) > worker.worker_ttl  # alive for minutes still


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


def report_done() -> dict[str, object]:
    """A job that succeeds, as a fetch job does (its outcome lives in Postgres)."""
    return {"new": 1}


class _Sent:
    """Round trips to Redis from this process: each write of a command or pipeline."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        send = AbstractConnection.send_packed_command

        def counting(conn: AbstractConnection, command: object, check_health: bool = True) -> None:
            self.count += 1
            send(conn, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)


def _run_one(worker: FeedWorker) -> None:
    taken = worker.dequeue_job_and_maintain_ttl(None)
    assert taken is not None
    worker.execute_job(*taken)


def test_a_job_that_succeeds_costs_the_worker_three_redis_round_trips(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RQ 3 alone: 16 (dequeue 2, start 2, the job's last heartbeat, success 9, state 2).
    queue = Queue("rqworker-test", connection=redis)
    queue.enqueue(f"{__name__}.report_done", result_ttl=0)
    worker = _worker(redis)
    worker.set_state("idle")  # as between two jobs: listening, its heartbeat just sent
    worker.heartbeat()
    sent = _Sent(monkeypatch)
    _run_one(worker)
    assert sent.count == 3  # take the job with its hash, start it, end it


def test_a_job_that_succeeds_leaves_no_record_of_itself_in_redis(redis: Redis) -> None:
    queue = Queue("rqworker-test", connection=redis)
    job = queue.enqueue(f"{__name__}.report_done", result_ttl=0)
    worker = _worker(redis)
    _run_one(worker)
    assert not redis.exists(job.key, Result.get_key(job.id), f"rq:executions:{job.id}")
    assert queue.started_job_registry.count == 0
    assert queue.finished_job_registry.count == 0
    assert redis.scard(worker.executions_key) == 0
    assert not [key for key in redis.scan_iter("rq:execution:*")]
    assert redis.hget(worker.key, "state") == b"idle"
    assert redis.hget(worker.key, "successful_job_count") == b"1"


def test_a_job_that_keeps_its_result_is_finished_as_rq_finishes_it(redis: Redis) -> None:
    queue = Queue("rqworker-test", connection=redis)
    job = queue.enqueue(f"{__name__}.report_done", result_ttl=60)
    _run_one(_worker(redis))
    assert queue.finished_job_registry.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=redis).return_value() == {"new": 1}


def test_a_running_job_is_recorded_as_rq_records_it(redis: Redis) -> None:
    queue = Queue("rqworker-test", connection=redis)
    job = queue.enqueue(f"{__name__}.report_done", result_ttl=0)
    worker = _worker(redis)
    taken = worker.dequeue_job_and_maintain_ttl(None)
    assert taken is not None
    worker.prepare_execution(taken[0])
    # What the supervisor's recovery and RQ's registries read of a running job.
    found = Worker.find_by_key(worker.key, connection=redis)
    assert found is not None and found.get_current_job_id() == job.id
    assert queue.started_job_registry.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=redis).get_status() == JobStatus.STARTED
    assert redis.hget(worker.key, "state") == b"busy"

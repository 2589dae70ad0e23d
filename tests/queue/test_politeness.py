from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.queue.politeness import PARK_FALLBACK, WAIT_TTL, HostBudget, Lease
from app.storage.db import Database
from app.storage.models import Fetch, FetchState
from tests.conftest import WorkerDyno, wait_for
from tests.feedserver import FIXTURES, FeedServer, Request, Response

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


def _budget(redis: Redis, concurrency: int = 2, per_minute: int = 100) -> HostBudget:
    return HostBudget(
        redis, prefix="t", concurrency=concurrency, per_minute=per_minute, lease_seconds=60
    )


def test_concurrent_leases_are_capped_per_host(redis: Redis) -> None:
    budget = _budget(redis, concurrency=2)
    first, second, third = (budget.acquire("a.example") for _ in range(3))
    assert isinstance(first, Lease) and isinstance(second, Lease)
    assert not isinstance(third, Lease) and third > 0


def test_other_hosts_have_their_own_budget(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    assert isinstance(budget.acquire("a.example"), Lease)
    assert isinstance(budget.acquire("b.example"), Lease)


def test_released_lease_frees_its_slot(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    lease = budget.acquire("a.example")
    assert isinstance(lease, Lease)
    budget.release(lease)
    assert isinstance(budget.acquire("a.example"), Lease)


def test_per_minute_budget_defers_until_the_window_frees(redis: Redis) -> None:
    budget = _budget(redis, concurrency=10, per_minute=2)
    for _ in range(2):
        lease = budget.acquire("a.example")
        assert isinstance(lease, Lease)
        budget.release(lease)
    wait = budget.acquire("a.example")
    assert not isinstance(wait, Lease) and 55 <= wait <= 60


def test_expired_lease_of_a_dead_worker_stops_counting(redis: Redis) -> None:
    budget = HostBudget(redis, prefix="t", concurrency=1, per_minute=100, lease_seconds=0.2)
    assert isinstance(budget.acquire("a.example"), Lease)  # never released
    assert not isinstance(budget.acquire("a.example"), Lease)  # held while it lasts
    wait_for(lambda: isinstance(budget.acquire("a.example"), Lease), timeout=10)


def test_two_processes_worth_of_callers_never_exceed_the_cap(redis: Redis) -> None:
    budget = _budget(redis, concurrency=3)
    results: list[object] = []
    lock = threading.Lock()

    def take() -> None:
        got = budget.acquire("a.example")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Lease) for r in results) == 3


# -- waiting per host: park, hand over, sweep ---------------------------------------


def _waiting_job(redis: Redis, job_id: str, *, seconds: float = PARK_FALLBACK) -> Queue:
    """A fetch job as a worker leaves one whose host is over budget: in RQ's scheduled
    registry, ``seconds`` out."""
    queue = Queue("t-fetches", connection=redis)
    queue.enqueue_in(timedelta(seconds=seconds), "app.jobs.fetch.run_fetch", job_id=job_id)
    return queue


def _held(budget: HostBudget, host: str) -> Lease:
    lease = budget.acquire(host)
    assert isinstance(lease, Lease)
    return lease


def test_a_release_hands_the_slot_to_the_first_waiter(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    lease = _held(budget, "a.example")
    queue = _waiting_job(redis, "first")
    _waiting_job(redis, "second")
    assert budget.park("a.example", "first") == []
    assert budget.park("a.example", "second") == []
    assert budget.release(lease) == ["first"]
    assert queue.get_job_ids() == ["first"]
    assert Job.fetch("first", connection=redis).get_status() == JobStatus.QUEUED
    assert "first" not in queue.scheduled_job_registry.get_job_ids()
    assert "second" in queue.scheduled_job_registry.get_job_ids()
    assert budget.waiting() == 1


def test_a_promoted_waiter_holds_the_slot_it_was_handed(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    lease = _held(budget, "a.example")
    _waiting_job(redis, "first")
    budget.park("a.example", "first")
    budget.release(lease)
    assert not isinstance(budget.acquire("a.example", "newcomer"), Lease)
    assert budget.acquire("a.example", "first") == Lease("a.example", "first")


def test_a_newcomer_waits_behind_the_waiters_of_a_freed_slot(redis: Redis) -> None:
    budget = HostBudget(redis, prefix="t", concurrency=1, per_minute=100, lease_seconds=0.2)
    _held(budget, "a.example")  # never released: its worker died
    queue = _waiting_job(redis, "first")
    budget.park("a.example", "first")
    time.sleep(0.3)
    assert not isinstance(budget.acquire("a.example", "newcomer"), Lease)
    assert queue.get_job_ids() == ["first"]


def test_a_waiter_is_pushed_once_however_often_it_is_listed_or_promoted(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    lease = _held(budget, "a.example")
    queue = _waiting_job(redis, "first")
    budget.park("a.example", "first")
    budget.park("a.example", "first")  # listed again: keeps its one place
    redis.rpush("t:host:a.example:waiting", "first")  # a stale copy in the list
    assert redis.llen("t:host:a.example:waiting") == 2
    budget.release(lease)
    budget.release(_held(budget, "b.example"))  # nothing of a.example's
    budget.release(Lease("a.example", "first"))
    assert queue.get_job_ids() == ["first"]
    assert redis.llen("t:host:a.example:waiting") == 0


def test_an_expired_lease_releases_waiters_at_the_sweep(redis: Redis) -> None:
    budget = HostBudget(redis, prefix="t", concurrency=1, per_minute=100, lease_seconds=0.2)
    _held(budget, "a.example")  # never released: its worker died
    queue = _waiting_job(redis, "first")
    budget.park("a.example", "first")
    assert budget.sweep() == []  # the lease still holds the slot
    time.sleep(0.3)
    assert budget.sweep() == ["first"]
    assert queue.get_job_ids() == ["first"]


def test_the_sweep_reads_no_host_before_its_slot_may_open(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    _held(budget, "a.example")
    _waiting_job(redis, "first")
    budget.park("a.example", "first")
    due = redis.zrangebyscore("t:hostwait:hosts", "-inf", time.time())
    assert due == []  # listed for when its lease expires, 60 s out


def test_waiters_of_another_host_are_unaffected(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    a_lease = _held(budget, "a.example")
    b_lease = _held(budget, "b.example")
    queue = _waiting_job(redis, "a-job")
    _waiting_job(redis, "b-job")
    budget.park("a.example", "a-job")
    budget.park("b.example", "b-job")
    assert budget.release(b_lease) == ["b-job"]
    assert queue.get_job_ids() == ["b-job"]
    assert "a-job" in queue.scheduled_job_registry.get_job_ids()
    assert budget.release(a_lease) == ["a-job"]


def test_a_waiter_due_in_rqs_scheduler_is_left_to_it(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    lease = _held(budget, "a.example")
    queue = _waiting_job(redis, "soon", seconds=2)
    budget.park("a.example", "soon")
    assert budget.release(lease) == []
    assert queue.get_job_ids() == []
    assert "soon" in queue.scheduled_job_registry.get_job_ids()


def test_a_waiter_whose_job_is_gone_is_dropped(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    lease = _held(budget, "a.example")
    queue = _waiting_job(redis, "gone")
    budget.park("a.example", "gone")
    redis.delete(Job.key_for("gone"))
    assert budget.release(lease) == []
    assert queue.get_job_ids() == []
    assert redis.llen("t:host:a.example:waiting") == 0
    assert budget.waiting() == 0


def test_a_free_slot_promotes_a_job_as_it_is_parked(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    queue = _waiting_job(redis, "late")  # its slot freed before it could be listed
    assert budget.park("a.example", "late") == ["late"]
    assert queue.get_job_ids() == ["late"]


def test_the_wait_lists_expire(redis: Redis) -> None:
    budget = _budget(redis, concurrency=1)
    _held(budget, "a.example")
    _waiting_job(redis, "first")
    budget.park("a.example", "first")
    for key in ("t:host:a.example:waiting", "t:hostwait:jobs", "t:hostwait:hosts"):
        assert 0 < redis.ttl(key) <= WAIT_TTL


class ConcurrencyProbe:
    """A slow feed route that records how many requests overlapped."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, _req: Request) -> Response:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.5)
        with self.lock:
            self.active -= 1
        return Response(200, RSS, {"Content-Type": "application/rss+xml"})


def test_feeds_of_a_busy_host_are_deferred_not_failed(
    client: FlaskClient,
    db: Database,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    probe = ConcurrencyProbe()
    for i in range(4):
        client.post("/feeds", json={"url": feed_server.route(f"/h{i}.xml", probe)})
    start_worker(concurrency=1, WORKER_THREADS="4", FETCH_HOST_CONCURRENCY="1")

    def all_done() -> bool:
        with db.session() as session:
            states = session.scalars(select(Fetch.state)).all()
        return len(states) == 4 and all(s == FetchState.SUCCEEDED for s in states)

    wait_for(all_done, timeout=40, interval=0.2)
    assert probe.peak == 1


def test_a_burst_for_one_host_waits_without_polling_and_runs_each_fetch_once(
    client: FlaskClient,
    db: Database,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    probe = ConcurrencyProbe()
    count = 12
    served: list[str] = []

    def route(req: Request) -> Response:
        served.append(req.path)
        return probe(req)

    for i in range(count):
        client.post("/feeds", json={"url": feed_server.route(f"/burst{i}.xml", route)})
    worker = start_worker(concurrency=1, WORKER_THREADS="4", FETCH_HOST_CONCURRENCY="1")

    def all_done() -> bool:
        with db.session() as session:
            states = session.scalars(select(Fetch.state)).all()
        return len(states) == count and all(s == FetchState.SUCCEEDED for s in states)

    wait_for(all_done, timeout=60, interval=0.2)
    assert probe.peak == 1
    assert sorted(served) == sorted(f"/burst{i}.xml" for i in range(count))  # each once
    # Polling would have asked again every second for each waiting fetch (about
    # count * count / 2 times over the burst's 6 s); a waiter asks once.
    # The fetches' waits only: an icon search for the feeds' site, whose host has the
    # same budget of one, may be left for later too, and logs that in its own words.
    waits = worker.output().count("fetch waiting: host over budget")
    assert waits < count, waits

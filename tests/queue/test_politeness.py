from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select

from app.queue.politeness import HostBudget, Lease
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

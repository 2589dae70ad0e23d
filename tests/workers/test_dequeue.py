"""The worker process's one blocking dequeue, taken in turns (app/workers/dequeue.py)."""

from __future__ import annotations

import threading
import time

from redis import Redis
from rq import Queue

from app.config import Settings
from app.workers.dequeue import SharedDequeue
from app.workers.rqworker import FeedWorker


def _takers(redis: Redis, dequeue: SharedDequeue, count: int) -> list[FeedWorker]:
    queue = Queue("dequeue-test", connection=redis)
    return [
        FeedWorker([queue], connection=redis, name=f"dequeue-test.t{i}", threaded=True,
                   dequeue=dequeue)
        for i in range(count)
    ]  # fmt: skip


def test_a_thread_waiting_for_the_turn_sleeps_until_it_gets_it_and_leaves_once_closed(
    redis: Redis, settings: Settings
) -> None:
    # Only the turn's holder wakes for stop requests (its BLPOP ends every few seconds);
    # a waiting thread that woke at each of those ends would take the GIL from jobs.
    dequeue = SharedDequeue(settings.redis_url or "")
    holder, waiter = _takers(redis, dequeue, 2)
    returned: dict[str, float] = {}
    started = time.monotonic()

    def take(worker: FeedWorker, timeout: int) -> None:
        assert dequeue.take(worker, timeout) is None  # the queue stays empty
        returned[worker.name] = time.monotonic() - started

    threads = [
        threading.Thread(target=take, args=(holder, 3)),
        threading.Thread(target=take, args=(waiter, 1)),
    ]
    threads[0].start()
    time.sleep(0.3)  # the holder has the turn and blocks in BLPOP
    threads[1].start()
    time.sleep(2.0)
    assert returned == {}  # past the waiter's 1 s: it still waits for the turn
    dequeue.close()
    for thread in threads:
        thread.join(5)
    # The holder's BLPOP ends at 3 s; the waiter then gets the turn and leaves at once.
    assert set(returned) == {holder.name, waiter.name}
    assert returned[waiter.name] - returned[holder.name] < 0.5

"""One blocking dequeue per worker process, shared by its threads in turns.

Each idle RQ worker thread used to block in its own ``BLPOP``, one Redis
connection per thread (16 per process) before any other work; on Key-Value
Store mini (20 connections) one worker dyno took them all. Here the threads of
a process take turns: the one holding the turn blocks in ``BLPOP`` on the
process's one dequeue connection; when a job arrives it passes the turn on and
runs the job with the process's bounded pool (app/budget.py). Only a free thread
waits on Redis, so a job is never taken before a thread can run it, and a
process that stops taking jobs (SIGTERM, too much memory) simply stops taking turns.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from redis import Redis
from redis.exceptions import ConnectionError, TimeoutError
from rq import Queue
from rq.exceptions import DequeueTimeout
from rq.job import Job

from app.budget import DEQUEUE
from app.queue.connection import bounded_redis
from app.workers.popjob import pop_ready

if TYPE_CHECKING:
    from app.workers.rqworker import FeedWorker

log = logging.getLogger(__name__)

#: Longest pause between two attempts while Redis cannot be reached.
MAX_RECONNECT_WAIT = 30.0

#: Longest wait of an idle thread for its turn. Only the thread holding the turn
#: must wake for a stop request (its BLPOP ends every few seconds); once the dequeue
#: is closed, each waiting thread gets the turn in its order and leaves at once. The
#: others waking every 2 s to look cost an idle process 24 wake-ups a second, each
#: taking the GIL from whatever job was running. Shorter than the life of the RQ
#: worker's key (8 minutes) that a waking thread's heartbeat renews.
TURN_WAIT = 30.0


class SharedDequeue:
    """The process's one blocking dequeue, taken by one idle thread at a time."""

    def __init__(self, redis_url: str) -> None:
        self.redis: Redis = bounded_redis(redis_url, DEQUEUE)
        self._turn = threading.Lock()
        self._wait = 1.0
        self.closed = False

    def take(self, worker: FeedWorker, timeout: int) -> tuple[Job, Queue] | None:
        """Wait for the turn (up to TURN_WAIT s), then up to ``timeout`` s for a job of
        ``worker``'s queues.

        Returns the job and the worker's own queue object, both bound to the
        worker's (pooled) connection: the dequeue connection is needed for the
        next thread's turn.
        """
        if self.closed or not self._turn.acquire(timeout=TURN_WAIT):
            return None
        try:
            if self.closed or worker._stop_requested:
                return None
            try:
                # A job already waiting comes with its hash in one round trip; only
                # an empty queue is waited on (BLPOP, then the hash: two).
                result = pop_ready(worker, self.redis) or worker.queue_class.dequeue_any(
                    worker._ordered_queues,
                    timeout,
                    connection=self.redis,
                    job_class=worker.job_class,
                    serializer=worker.serializer,
                    death_penalty_class=worker.death_penalty_class,
                )
            except DequeueTimeout:
                return None
            except (ConnectionError, TimeoutError) as exc:
                log.error("dequeue: Redis unavailable (%s); retrying in %.0f s", exc, self._wait)
                time.sleep(self._wait)
                self._wait = min(MAX_RECONNECT_WAIT, self._wait * 2)
                return None
            self._wait = 1.0
        finally:
            self._turn.release()
        if result is None:
            return None
        job, queue = result
        job.connection = worker.connection
        own = next((q for q in worker.queues if q.name == queue.name), queue)
        job.redis_server_version = worker.get_redis_server_version()
        return job, own

    def close(self) -> None:
        """Take no more turns (the process is stopping or being replaced)."""
        self.closed = True

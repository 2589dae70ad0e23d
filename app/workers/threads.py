"""Several RQ workers in one process, one per thread.

A fetch spends most of its time waiting for a feed server, so threads give
concurrency for little memory. The threads take turns at the process's one
blocking dequeue (:mod:`app.workers.dequeue`) and share its bounded Redis and
Postgres pools (app/budget.py): an extra thread costs no connection. The main
thread owns the signals:
on SIGTERM (once or many times) every worker stops taking jobs; running jobs
get the grace period. A thread blocked on a socket cannot be interrupted, so
when the grace period is over the process ends with :data:`EXIT_INTERRUPTED`
and the supervisor, seeing a child die with jobs in hand, puts those jobs back
on their queue (and their fetches back to queued), exactly as after a crash.
No thread of this process is left to take them again.

A process whose resident memory passes ``WORKER_MAX_RSS_MB`` stops taking
jobs, finishes the ones it runs and exits with :data:`EXIT_RECYCLED`; the
supervisor starts a fresh one at once (Celery's max-memory-per-child, gunicorn's
max_requests): memory that Python's allocator keeps after a large document goes back.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

import psutil

from app.context import JobContext
from app.observability import metrics
from app.workers.dequeue import SharedDequeue
from app.workers.rqworker import FeedWorker, rq_log_level

log = logging.getLogger(__name__)

#: Exit status of a worker process that stopped with jobs still running.
EXIT_INTERRUPTED = 3

#: Exit status of a worker process that passed WORKER_MAX_RSS_MB and finished its jobs.
EXIT_RECYCLED = 4

#: Seconds between two looks at the process's resident memory.
RSS_CHECK_EVERY = 2.0

#: Seconds the main thread waits on its threads between two looks at the grace
#: period and the memory.
WATCH_TICK = 0.2

#: Seconds a thread may hold the GIL while others wait (Python's default: 0.005).
#: Worker threads mostly wait on sockets, and each wake-up hands the GIL over;
#: with the default, a thread parsing a feed was pre-empted every 5 ms as well,
#: and a worker process did 20 % fewer fetches per CPU second (docs/benchmarks.md).
#: A wait of up to 20 ms for the GIL is nothing beside a feed's network time.
SWITCH_INTERVAL = 0.02


class ThreadedWorkers:
    """Run ``count`` FeedWorkers named ``<name>.t<i>`` in threads of this process."""

    def __init__(self, ctx: JobContext, name: str, count: int) -> None:
        self.ctx = ctx
        assert ctx.settings.redis_url
        self.dequeue = SharedDequeue(ctx.settings.redis_url)
        self.workers = [
            FeedWorker(
                ctx.queues.in_priority_order,
                connection=ctx.queues.redis,
                name=thread_worker_name(name, i),
                threaded=True,
                dequeue=self.dequeue,
                host_budget=ctx.budget,
            )
            for i in range(count)
        ]
        self._stop_at: float | None = None
        self._recycling = False
        self._rss_checked = 0.0

    def run(self) -> None:
        """Work until a stop signal and every thread has finished."""
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._rss_checked = time.monotonic()
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        threads = [
            threading.Thread(
                target=worker.work,
                kwargs={"logging_level": rq_log_level(self.ctx.settings.log_level)},
                name=worker.name,
                daemon=True,
            )
            for worker in self.workers
        ]
        for thread in threads:
            thread.start()
        # One wait per tick, on one live thread: waiting on each in turn would leave
        # the grace period and the memory unwatched for a tick per thread.
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(WATCH_TICK)
            if self._stop_at is not None and time.monotonic() >= self._stop_at:
                self._requeue_running_jobs_and_exit()
            self._check_memory()
        if self._recycling:
            logging.shutdown()
            os._exit(EXIT_RECYCLED)

    def _check_memory(self) -> None:
        """Past WORKER_MAX_RSS_MB: take no more jobs; the running ones finish."""
        limit = self.ctx.settings.worker_max_rss_mb
        now = time.monotonic()
        if not limit or self._recycling or now - self._rss_checked < RSS_CHECK_EVERY:
            return
        self._rss_checked = now
        rss_mb = psutil.Process().memory_info().rss / (1024 * 1024)
        if rss_mb <= limit:
            return
        log.warning(
            "worker process uses %.0f MB (WORKER_MAX_RSS_MB=%d): finishing its jobs, then "
            "making way for a fresh process",
            rss_mb,
            limit,
        )
        metrics.worker_recycled()
        self._recycling = True
        self.dequeue.close()
        for worker in self.workers:
            worker.stop_soon()

    def _requeue_running_jobs_and_exit(self) -> None:
        busy = [worker.name for worker in self.workers if worker.busy()]
        log.warning(
            "grace period over with jobs running on %s; leaving them to the supervisor", busy
        )
        logging.shutdown()
        os._exit(EXIT_INTERRUPTED)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        # Heroku may repeat SIGTERM: the first one starts the grace period,
        # later ones change nothing.
        if self._stop_at is None:
            log.info("worker threads: %s, warm shutdown", signal.Signals(signum).name)
            self._stop_at = time.monotonic() + self.ctx.settings.shutdown_grace
        self.dequeue.close()
        for worker in self.workers:
            worker.stop_soon()


def thread_worker_name(process_name: str, index: int) -> str:
    """The RQ worker name of thread ``index`` of the process named ``process_name``."""
    return f"{process_name}.t{index}"

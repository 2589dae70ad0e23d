"""Several RQ workers in one process, one per thread.

A fetch spends most of its time waiting for a feed server, so threads give
concurrency for little memory: each extra worker thread costs a Redis and a
Postgres connection, not a Python process. The main thread owns the signals:
on SIGTERM (once or many times) every worker stops taking jobs; running jobs
get the grace period. A thread blocked on a socket cannot be interrupted, so
when the grace period is over the process ends with :data:`EXIT_INTERRUPTED`
and the supervisor, seeing a child die with jobs in hand, puts those jobs back
on their queue (and their fetches back to queued), exactly as after a crash.
No thread of this process is left to take them again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from app.context import JobContext
from app.workers.rqworker import FeedWorker, rq_log_level

log = logging.getLogger(__name__)

#: Exit status of a worker process that stopped with jobs still running.
EXIT_INTERRUPTED = 3

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
        self.workers = [
            FeedWorker(
                ctx.queues.in_priority_order,
                connection=ctx.queues.redis,
                name=thread_worker_name(name, i),
                threaded=True,
            )
            for i in range(count)
        ]
        self._stop_at: float | None = None

    def run(self) -> None:
        """Work until a stop signal and every thread has finished."""
        sys.setswitchinterval(SWITCH_INTERVAL)
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
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.2)
            if self._stop_at is not None and time.monotonic() >= self._stop_at:
                self._requeue_running_jobs_and_exit()

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
        for worker in self.workers:
            worker.stop_soon()


def thread_worker_name(process_name: str, index: int) -> str:
    """The RQ worker name of thread ``index`` of the process named ``process_name``."""
    return f"{process_name}.t{index}"

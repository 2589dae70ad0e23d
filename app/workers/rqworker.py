"""An RQ worker with Heroku's shutdown semantics that runs jobs in-process.

RQ's default Worker forks a work horse per job, paying a fork and a warm-up
per fetch; SimpleWorker runs jobs in the worker process itself, which keeps
the job context (connection pools, imported parser) hot. This subclass adds
what Heroku needs:

- SIGTERM (and SIGINT), however many times it arrives, is a *warm* shutdown:
  stop taking jobs, let the running job finish within a grace period.
- When the grace period runs out, :class:`ShutdownInterrupt` is raised inside
  the job, and the job goes back to the front of its queue instead of the
  failed registry: an interrupted fetch is run again, never lost.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType, TracebackType

from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.utils import now
from rq.worker import WorkerStatus

from app.jobs.interrupt import ShutdownInterrupt

log = logging.getLogger(__name__)

# The signal used to interrupt the running job after the grace period; RQ
# itself uses SIGALRM (job timeouts) and SIGTERM/SIGINT, not this one.
INTERRUPT_SIGNAL = signal.SIGUSR1


class FeedWorker(SimpleWorker):
    """SimpleWorker + warm, repeatable SIGTERM handling + requeue on interruption."""

    #: Seconds a running job may keep going after SIGTERM. Heroku kills the
    #: dyno 30 s after SIGTERM; keep room for the requeue and the exit.
    shutdown_grace: float = 20.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._interrupt_timer: threading.Timer | None = None

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(INTERRUPT_SIGNAL, self._interrupt_job)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Warm shutdown, every time: Heroku may repeat SIGTERM, which must not turn cold."""
        log.info("worker %s: signal %s, warm shutdown", self.name, signal.Signals(signum).name)
        self._shutdown_requested_date = now()
        if self.get_state() == WorkerStatus.BUSY and self._interrupt_timer is None:
            self._interrupt_timer = threading.Timer(
                self.shutdown_grace, os.kill, (os.getpid(), INTERRUPT_SIGNAL)
            )
            self._interrupt_timer.daemon = True
            self._interrupt_timer.start()
        self._shutdown()  # raises StopRequested when idle

    def _interrupt_job(self, signum: int, frame: FrameType | None) -> None:
        if self.get_state() == WorkerStatus.BUSY:
            log.warning("worker %s: grace period over, interrupting the running job", self.name)
            raise ShutdownInterrupt("worker shutting down")

    def _finalize_failure(
        self,
        job: Job,
        queue: Queue,
        execution: Execution,
        exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
    ) -> None:
        if not isinstance(exc_info[1], ShutdownInterrupt):
            super()._finalize_failure(job, queue, execution, exc_info)
            return
        # Not a failure: put the job back where another worker takes it first.
        self.handle_execution_ended(job, queue, job.failure_callback_timeout)
        with self.connection.pipeline() as pipe:
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            job.set_status(JobStatus.QUEUED, pipeline=pipe)
            pipe.execute()
        queue.enqueue_job(job, at_front=True)
        log.info("worker %s: job %s interrupted by shutdown and requeued", self.name, job.id)

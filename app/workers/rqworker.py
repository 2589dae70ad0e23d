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

Fetching is mostly waiting on the network, so one process can run several of
these workers in threads (see :mod:`app.workers.threads`); then the process's
main thread owns the signals and calls :meth:`FeedWorker.stop_soon` on each.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from types import FrameType, TracebackType

from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.timeouts import TimerDeathPenalty
from rq.utils import now
from rq.worker import WorkerStatus

from app.queue.politeness import PARK_FALLBACK, HostBudget, HostWait
from app.queue.shutdown import ShutdownInterrupt
from app.workers import bookkeeping
from app.workers.dequeue import SharedDequeue
from app.workers.popjob import pop_ready

log = logging.getLogger(__name__)

# The signal used to interrupt the running job after the grace period; RQ
# itself uses SIGALRM (job timeouts) and SIGTERM/SIGINT, not this one.
INTERRUPT_SIGNAL = signal.SIGUSR1


def rq_log_level(app_level: str) -> str:
    """RQ's own log level: it writes three lines per job at INFO, which at hundreds
    of jobs a second cost real CPU and say less than the job's own line."""
    return "DEBUG" if app_level == "DEBUG" else "WARNING"


class FeedWorker(SimpleWorker):
    """SimpleWorker + warm, repeatable SIGTERM handling + requeue on interruption."""

    #: Seconds a running job may keep going after SIGTERM. Heroku kills the
    #: dyno 30 s after SIGTERM; keep room for the requeue and the exit.
    shutdown_grace: float = 20.0

    #: How often the idle thread blocked in the process's dequeue wakes to notice a
    #: stop request (the others wait for their turn: app/workers/dequeue.py).
    idle_wakeup: int = 2

    #: Least seconds between two of the worker's keep-alive heartbeats (three commands
    #: each). RQ sends one before each job, after it and again while listening, a third
    #: of a short job's Redis traffic, and idle threads woke every ``idle_wakeup`` s:
    #: at 1 s, an idle dyno's 96 threads sent about 140 commands a second for nothing.
    #: The worker's key lives worker_ttl + 60 s (8 minutes) after each one, and a job's
    #: start and end write the worker's hash anyway.
    heartbeat_every: float = 60.0

    def __init__(
        self,
        *args: object,
        threaded: bool = False,
        dequeue: SharedDequeue | None = None,
        host_budget: HostBudget | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.host_budget = host_budget
        self._interrupt_timer: threading.Timer | None = None
        self._beaten_at: float | None = None
        self.threaded = threaded
        self.dequeue = dequeue
        if threaded:
            # SIGALRM reaches only the main thread; time jobs out with a timer instead.
            self.death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        if self.threaded:
            return  # the process's main thread owns the signals
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(INTERRUPT_SIGNAL, self._interrupt_job)

    # -- Redis round trips ----------------------------------------------
    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's heartbeat, in one round trip, and at most every ``heartbeat_every`` s."""
        if pipeline is not None:  # part of a job's bookkeeping: always sent
            super().heartbeat(timeout, pipeline=pipeline)
            return
        beaten = self._beaten_at
        if (
            timeout is None
            and beaten is not None
            and time.monotonic() - beaten < self.heartbeat_every
        ):
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()
        self._beaten_at = time.monotonic()

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's two transactions to start a job, as one (app.workers.bookkeeping)."""
        execution = bookkeeping.start_job(
            self, job, from_intermediate_queue=len(self.queues) == 1
        )
        self._beaten_at = time.monotonic()
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Already done by :meth:`prepare_execution`, in the same transaction."""

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        """RQ's set_state, without writing the state the worker already has.

        RQ marks a worker idle after each job and again when it next listens.
        """
        if pipeline is None and state == self.get_state():
            return
        super().set_state(state, pipeline=pipeline)

    # -- threaded mode ---------------------------------------------------
    def stop_soon(self) -> None:
        """Stop taking jobs; a running job goes on (called from the main thread)."""
        self._stop_requested = True

    def busy(self) -> bool:
        return self.get_state() == WorkerStatus.BUSY

    def subscribe(self) -> None:
        """Not listening to RQ's command channel (``rq.command``): it would hold a
        pubsub connection per worker for good, out of the few the connection budget
        gives a process (app/budget.py). Workers stop on SIGTERM instead."""

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        if not self.threaded or timeout is None:
            if not self._stop_requested:
                self.set_state(WorkerStatus.IDLE)
                self.heartbeat()
                ready = pop_ready(self, self.connection)
                if ready is not None:
                    return ready
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        assert self.dequeue is not None
        self.set_state(WorkerStatus.IDLE)
        # Idle threads take turns at the process's one blocking dequeue: only a
        # thread that is free waits on Redis, so a job is never taken before a
        # thread can run it. A blocked BLPOP cannot be woken by a signal: block
        # for a short while at a time and look at the stop flag in between.
        while True:
            if self._stop_requested:
                raise StopRequested()
            self.heartbeat()
            result = self.dequeue.take(self, self.idle_wakeup)
            if result is not None:
                return result

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

    def _finalize_success(
        self, job: Job, queue: Queue, execution: Execution, return_value: object
    ) -> None:
        """RQ's, except for a fetch whose host is over budget: it waits for the host.

        Not through RQ's retry, which would keep a result record of the wait (a
        4.8 KB stream per waiting job, for FAILURE_TTL) and the pickled return value
        in the job's hash (past 64 bytes: the hash loses its compact encoding). The
        job goes to the scheduled registry, PARK_FALLBACK s out, then to the host's
        wait list: only once scheduled, as the host's next free slot promotes a
        waiter by taking it out of the scheduled registry.
        """
        if not isinstance(return_value, HostWait):
            if isinstance(return_value, Retry) or not bookkeeping.is_plain(
                job, self.default_result_ttl
            ):
                super()._finalize_success(job, queue, execution, return_value)
                return
            # RQ's success handling of a job deleted when done: ten round trips, one here.
            bookkeeping.finish_job(self, job, execution)
            self._beaten_at = time.monotonic()
            return
        self.handle_execution_ended(job, queue, job.success_callback_timeout)
        job._result = None  # the wait is not a result: nothing to keep in the job's hash
        with self.connection.pipeline() as pipe:
            # Counted as RQ counts a job that ended in a retry.
            self.increment_failed_job_count(pipeline=pipe)
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            queue.schedule_job(job, now() + timedelta(seconds=PARK_FALLBACK), pipeline=pipe)
            pipe.execute()
        if self.host_budget is None:
            from app.context import get_context

            self.host_budget = get_context().budget
        try:
            self.host_budget.park(return_value.host, job.id)
        except RedisError:
            # Still scheduled: RQ's scheduler runs it at the fallback time.
            log.warning("job %s could not be listed as waiting for %s", job.id, return_value.host)

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

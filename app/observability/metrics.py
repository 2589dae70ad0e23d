"""The app's Prometheus metrics and the one-line calls that move them.

Every process of both dynos records into the shared multiprocess folder (see
:mod:`app.observability.multiproc`); the web's ``/metrics`` merges them. Call
sites stay one line (``metrics.job_finished(...)``) so the code they sit in
reads as before. Label values are bounded: routes are URL rules, not paths;
error codes are the pipeline's stable codes.
"""

from __future__ import annotations

import os
import threading

# Importing this module runs app/observability/__init__.py first, which sets
# PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported here.
import psutil
from prometheus_client import Counter, Gauge, Histogram
from rq import get_current_job

# -- web ---------------------------------------------------------------------
REQUEST_DURATION = Histogram(
    "feedqueue_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL rule and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# -- jobs ----------------------------------------------------------------------
JOBS_STARTED = Counter("feedqueue_jobs_started_total", "Fetch jobs a worker began.", ["queue"])
JOBS_SUCCEEDED = Counter(
    "feedqueue_jobs_succeeded_total", "Fetch jobs that stored a result.", ["queue"]
)
JOBS_FAILED = Counter(
    "feedqueue_jobs_failed_total",
    "Fetch jobs that ended in an error; will_retry=true when RQ runs them again.",
    ["queue", "code", "will_retry"],
)
JOBS_SKIPPED = Counter(
    "feedqueue_jobs_skipped_total", "Fetch jobs whose fetch had already finished.", ["queue"]
)
JOB_DURATION = Histogram(
    "feedqueue_job_duration_seconds",
    "Wall time of a whole fetch job (database, network, parsing), by outcome.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
)

WORKER_CRASHES = Counter(
    "feedqueue_fetch_worker_crashes_total",
    "Fetches whose worker process died under them (crash, OOM, SIGKILL), by what followed: "
    "retried (at the back of the queue) or quarantined (failed with worker_crashed).",
    ["outcome"],
)
WORKERS_RECYCLED = Counter(
    "feedqueue_worker_processes_recycled_total",
    "Worker processes replaced after passing WORKER_MAX_RSS_MB.",
)

# -- fetches (the network part of a job) ---------------------------------------
FETCH_DURATION = Histogram(
    "feedqueue_fetch_duration_seconds",
    "Time to download and parse one feed (redirects and discovery included).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0),
)
FETCH_RESPONSES = Counter(
    "feedqueue_fetch_responses_total",
    "Final HTTP status class of feed servers' answers (none: no answer at all).",
    ["status_class"],
)
FETCH_NOT_MODIFIED = Counter(
    "feedqueue_fetch_not_modified_total",
    "Fetches that found the feed unchanged (304, or the same content hash).",
)
FETCH_BYTES = Counter("feedqueue_fetch_bytes_total", "Bytes downloaded from feed servers.")
ITEMS_NEW = Counter("feedqueue_items_new_total", "Feed items stored for the first time.")
ITEMS_UPDATED = Counter("feedqueue_items_updated_total", "Stored feed items that changed.")

# -- scheduler -----------------------------------------------------------------
SCHEDULER_LAG = Histogram(
    "feedqueue_scheduler_lag_seconds",
    "How late a due feed was when the scheduler enqueued its refresh.",
    buckets=(1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)

# -- processes -------------------------------------------------------------------
PROCESSES_ALIVE = Gauge(
    "feedqueue_processes_alive",
    "Processes serving requests (role=web) or running jobs (role=worker).",
    ["role"],
    multiprocess_mode="livesum",
)
PROCESSES_BUSY = Gauge(
    "feedqueue_in_progress",
    "Requests being answered (role=web) or jobs running (role=worker), over live processes.",
    ["role"],
    multiprocess_mode="livesum",
)
PROCESS_MEMORY = Gauge(
    "feedqueue_process_resident_memory_bytes",
    "Resident memory of each live process (pid label added by the scrape).",
    ["role"],
    multiprocess_mode="liveall",
)
PROCESS_CPU = Gauge(
    "feedqueue_process_cpu_seconds",
    "CPU time (user + system) used so far by each live process.",
    ["role"],
    multiprocess_mode="liveall",
)


def status_class(status: int | None) -> str:
    """``2xx``..``5xx`` for an HTTP status, ``none`` when there was no answer."""
    if status is None or not 100 <= status <= 599:
        return "none"
    return f"{status // 100}xx"


def request_finished(method: str, route: str, status: int, seconds: float) -> None:
    """Record one answered HTTP request."""
    REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


def request_started() -> None:
    """A request began in this web process (pairs with :func:`request_ended`)."""
    PROCESSES_BUSY.labels("web").inc()


def request_ended() -> None:
    """The request begun by :func:`request_started` is over, whatever happened."""
    PROCESSES_BUSY.labels("web").dec()


def _queue() -> str:
    job = get_current_job()
    return job.origin if job is not None else "none"


# Threads of this process that are running a job. A job that dies without
# job_finished (an error escaping the job) leaves its thread marked; the
# thread's next job reuses the mark instead of counting itself twice.
_busy_threads: set[int] = set()
_busy_lock = threading.Lock()


def job_started() -> None:
    """A fetch job began in this worker process (on this thread)."""
    JOBS_STARTED.labels(_queue()).inc()
    with _busy_lock:
        if threading.get_ident() not in _busy_threads:
            _busy_threads.add(threading.get_ident())
            PROCESSES_BUSY.labels("worker").inc()


def job_finished(
    outcome: str, seconds: float, code: str | None = None, *, new: int = 0, updated: int = 0
) -> None:
    """A fetch job ended.

    ``outcome`` is succeeded, skipped (already finished), failed, retry (failed,
    RQ runs it again), interrupted (shutdown; requeued) or crashed (unexpected error).
    """
    queue = _queue()
    with _busy_lock:
        if threading.get_ident() in _busy_threads:
            _busy_threads.discard(threading.get_ident())
            PROCESSES_BUSY.labels("worker").dec()
    if outcome == "succeeded":
        JOBS_SUCCEEDED.labels(queue).inc()
        ITEMS_NEW.inc(new)
        ITEMS_UPDATED.inc(updated)
    elif outcome == "skipped":
        JOBS_SKIPPED.labels(queue).inc()
    else:
        code = code or ("interrupted" if outcome == "interrupted" else "internal_error")
        will_retry = "true" if outcome in ("retry", "interrupted") else "false"
        JOBS_FAILED.labels(queue, code, will_retry).inc()
    JOB_DURATION.labels(outcome).observe(seconds)


def worker_crash(quarantined: bool) -> None:
    """A fetch's worker process died under it; the fetch was retried or quarantined."""
    WORKER_CRASHES.labels("quarantined" if quarantined else "retried").inc()


def worker_recycled() -> None:
    """A worker process passed WORKER_MAX_RSS_MB and will be replaced."""
    WORKERS_RECYCLED.inc()


def fetch_done(
    seconds: float, http_status: int | None, *, not_modified: bool = False, size: int = 0
) -> None:
    """One trip to a feed server ended (an answer of any status, or none)."""
    FETCH_DURATION.observe(seconds)
    FETCH_RESPONSES.labels(status_class(http_status)).inc()
    if not_modified:
        FETCH_NOT_MODIFIED.inc()
    if size:
        FETCH_BYTES.inc(size)


def scheduler_lag(seconds: float) -> None:
    """The scheduler enqueued a refresh ``seconds`` after it was due."""
    SCHEDULER_LAG.observe(max(seconds, 0.0))


# -- per-process gauges ----------------------------------------------------------
_sampler_pid: int | None = None
_sampler_lock = threading.Lock()


def process_started(role: str, interval: float = 15.0) -> None:
    """Count this process as alive and keep its memory/CPU gauges fresh.

    Call once in each web worker or RQ worker process (after any fork); a
    second call in the same process does nothing. The daemon thread dies with
    the process, whose live gauges the parent then removes.
    """
    global _sampler_pid
    with _sampler_lock:
        if _sampler_pid == os.getpid():
            return
        _sampler_pid = os.getpid()
    PROCESSES_ALIVE.labels(role).set(1)
    PROCESSES_BUSY.labels(role).set(0)
    sample_process(role)
    if interval > 0:
        thread = threading.Thread(
            target=_sample_forever, args=(role, interval), name="metrics-sampler", daemon=True
        )
        thread.start()


def sample_process(role: str) -> None:
    """Update this process's memory and CPU gauges now."""
    proc = psutil.Process()
    with proc.oneshot():
        PROCESS_MEMORY.labels(role).set(proc.memory_info().rss)
        times = proc.cpu_times()
        PROCESS_CPU.labels(role).set(times.user + times.system)


def _sample_forever(role: str, interval: float) -> None:
    stop = threading.Event()
    pid = os.getpid()
    while not stop.wait(interval) and os.getpid() == pid:
        try:
            sample_process(role)
        except (psutil.Error, OSError):
            pass  # a failed sample is simply skipped; the next one may work

"""A worker process's threads: the main thread's watch over them (app/workers/threads.py)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

from app.context import JobContext
from app.workers.threads import RSS_CHECK_EVERY, ThreadedWorkers


@pytest.fixture
def main_thread_state() -> Iterator[None]:
    """ThreadedWorkers.run installs signal handlers and a switch interval: put them back."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    interval = sys.getswitchinterval()
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("main_thread_state")
def test_the_main_thread_looks_at_memory_and_the_grace_period_often_however_many_threads_run(
    job_context: JobContext,
) -> None:
    # As many threads as WORKER_THREADS gives by default: waiting on each in turn for a
    # tick would leave the memory limit and the grace period unwatched for 48 ticks.
    watcher = ThreadedWorkers(job_context, "watch-test", job_context.settings.worker_threads)
    release = threading.Event()
    for worker in watcher.workers:
        worker.work = lambda **_: release.wait()  # type: ignore[method-assign]
    looks: list[float] = []
    watcher._check_memory = lambda: looks.append(time.monotonic())  # type: ignore[method-assign]

    started = time.monotonic()
    threading.Timer(2 * RSS_CHECK_EVERY, release.set).start()
    watcher.run()

    gaps = [b - a for a, b in pairwise([started, *looks])]
    assert looks and max(gaps) <= RSS_CHECK_EVERY, gaps

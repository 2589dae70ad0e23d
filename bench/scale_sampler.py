"""Sampling Postgres while the scale-out bench runs: CPU of its processes, waits.

Every 0.25 s a thread reads pg_stat_activity for the bench database (which backends
wait, and on what) and the CPU time of the Postgres processes from /proc (psutil).
Waits are turned into seconds by the sampling period (a backend seen waiting on a
lock in one sample counts 0.25 s). CPU counts every process of a private cluster
(backends, autovacuum, WAL writer, checkpointer); on a shared server, only the bench
database's backends and autovacuum workers.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import psutil

from bench import scale_db
from bench.stack import Proc

PERIOD = 0.25


def cpu_seconds(proc: Proc) -> float:
    """User + system CPU seconds of ``proc`` and its descendants."""
    total = 0.0
    for p in proc.tree():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


class Sampler:
    """Samples until :meth:`finish`; counts only after :meth:`mark_start`."""

    def __init__(self, db_url: str, *, private: bool) -> None:
        self._conn = scale_db.connect(db_url)
        self._private = private
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._latest: dict[int, float] = {}
        self._base: dict[int, float] = {}
        self.waits = {"Lock": 0, "LWLock": 0, "IO": 0}
        self.events: dict[str, int] = {}  # "Lock:extend" -> samples
        self._postmaster: psutil.Process | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        if self._private:
            with self._conn.cursor() as cur:
                (pid,) = scale_db.query_one(cur, "SELECT pg_backend_pid()")
            self._postmaster = psutil.Process(int(pid)).parent()
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()

    def _pids(self, rows: list[tuple[int, str | None, str | None]]) -> list[psutil.Process]:
        if self._postmaster is not None:
            return [self._postmaster, *self._postmaster.children()]
        procs = []
        for pid, _, _ in rows:
            try:
                procs.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        return procs

    def _sample(self) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT pid, wait_event_type, wait_event FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            rows = cur.fetchall()
        cpu: dict[int, float] = {}
        for proc in self._pids(rows):
            try:
                t = proc.cpu_times()
                cpu[proc.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                continue
        with self._lock:
            for pid, seconds in cpu.items():
                if self._started and pid not in self._base:
                    self._base[pid] = 0.0  # born in the window: all its CPU counts
                self._latest[pid] = seconds
            if self._started:
                for _pid, wait, event in rows:
                    if wait in self.waits:
                        self.waits[wait] += 1
                        key = f"{wait}:{event}"
                        self.events[key] = self.events.get(key, 0) + 1

    def _loop(self) -> None:
        while not self._stop.wait(PERIOD):
            self._sample()

    def mark_start(self) -> None:
        """The measured window starts: CPU counts from here, waits are counted."""
        self._sample()
        with self._lock:
            self._base = dict(self._latest)
            self._started = True

    def finish(self) -> dict[str, Any]:
        """The window ends: CPU seconds and wait seconds within it."""
        self._sample()
        self._stop.set()
        with self._lock:
            cpu = sum(self._latest[pid] - base for pid, base in self._base.items())
            return {
                "cpu_s": cpu,
                "lock_wait_s": self.waits["Lock"] * PERIOD,
                "lwlock_wait_s": self.waits["LWLock"] * PERIOD,
                "io_wait_s": self.waits["IO"] * PERIOD,
                "wait_s_by_event": {k: v * PERIOD for k, v in sorted(self.events.items())},
            }

"""A pinned process gives its core up when others saturate it while another core idles.

``PIN_CPUS=auto`` pins only where the cores look like the process's own
(app/placement.py), but a check at start cannot see a neighbour that comes
later. So each pinned process runs :class:`PinWatch`, a daemon thread that
wakes every few seconds, reads ``/proc/stat`` (one file, no system call per
thread) and the process's own CPU time, and unpins every thread of the process
(back to all the CPUs it was allowed) when, two samples running, its core was
at least 90 % busy with at least half of it others' work while another allowed
core was at least half idle. It does not pin again: a process that had to
leave once is left to the kernel.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection
from pathlib import Path

log = logging.getLogger(__name__)

#: Seconds between samples.
INTERVAL = 5.0
#: Samples in a row that must find the core taken before the process leaves it.
STRIKES = 2
BUSY = 0.9  # the pinned core's busy share
OTHERS = 0.5  # of which others' work, at least
IDLE = 0.5  # another core's idle share, at least


def cpu_ticks(stat: str) -> dict[int, tuple[int, int]]:
    """Per-CPU (total, idle) ticks of a ``/proc/stat`` text (idle includes iowait)."""
    ticks: dict[int, tuple[int, int]] = {}
    for line in stat.splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(v) for v in values[:8]]  # guest time is already in user
            ticks[int(name[3:])] = (sum(numbers), numbers[3] + numbers[4])
    return ticks


def core_taken(
    before: str,
    after: str,
    own_cpu_seconds: float,
    cpu: int,
    allowed: Collection[int],
    ticks_per_second: int,
) -> str | None:
    """Why the process should leave ``cpu``, from two ``/proc/stat`` readings; None to stay.

    ``own_cpu_seconds`` is the CPU time the process used between the readings,
    all of it on ``cpu`` since it is pinned there.
    """
    first, second = cpu_ticks(before), cpu_ticks(after)
    shares: dict[int, tuple[float, float]] = {}  # cpu -> (busy share, idle share)
    for n in allowed:
        if n not in first or n not in second:
            continue
        total = second[n][0] - first[n][0]
        if total <= 0:
            return None
        idle = (second[n][1] - first[n][1]) / total
        shares[n] = (1 - idle, idle)
    if cpu not in shares:
        return None
    total = second[cpu][0] - first[cpu][0]
    busy = shares[cpu][0]
    others = busy - min(own_cpu_seconds * ticks_per_second / total, busy)
    idle_cpu = max((n for n in shares if n != cpu), key=lambda n: shares[n][1], default=None)
    if idle_cpu is None or busy < BUSY or others < OTHERS or shares[idle_cpu][1] < IDLE:
        return None
    return (
        f"CPU {cpu} was {busy:.0%} busy ({others:.0%} others' work) while CPU {idle_cpu} "
        f"was {shares[idle_cpu][1]:.0%} idle"
    )


def unpin_threads(allowed: Collection[int]) -> int:
    """Let every thread of this process run on ``allowed`` again; how many were moved.

    ``sched_setaffinity`` of pid 0 sets the calling thread only: each thread
    (``/proc/self/task``) is set by its own id.
    """
    moved = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), set(allowed))
            moved += 1
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
    return moved


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class PinWatch(threading.Thread):
    """Daemon thread of a process pinned to ``cpu``: unpins it when the core is taken."""

    def __init__(
        self,
        cpu: int,
        allowed: Collection[int],
        interval: float = INTERVAL,
        stat: Path = Path("/proc/stat"),
    ) -> None:
        super().__init__(name="pin-watch", daemon=True)
        self.cpu = cpu
        self.allowed = set(allowed)
        self.interval = interval
        self.stat = stat
        self.stopped = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        strikes = 0
        before, own = self.stat.read_text(), _own_cpu_seconds()
        while not self.stopped.wait(self.interval):
            after, now = self.stat.read_text(), _own_cpu_seconds()
            reason = core_taken(before, after, now - own, self.cpu, self.allowed, ticks)
            before, own = after, now
            strikes = strikes + 1 if reason else 0
            if strikes >= STRIKES:
                self.reason = reason
                moved = unpin_threads(self.allowed)
                log.warning(
                    "left CPU %s for CPUs %s (%d threads): %s",
                    self.cpu,
                    sorted(self.allowed),
                    moved,
                    reason,
                )
                return

    def stop(self) -> None:
        """End the watch (tests; a process's own watch ends with it)."""
        self.stopped.set()


def watch_pinned(cpu: int | None, allowed: Collection[int]) -> PinWatch | None:
    """Start the watch for a process just pinned to ``cpu`` (nothing when not pinned)."""
    if cpu is None:
        return None
    watch = PinWatch(cpu, allowed)
    watch.start()
    return watch

"""``PIN_CPUS``: each web and worker process keeps its threads on one CPU.

The threads of one Python process take turns holding the GIL, so a process runs
Python on one core at a time however many it may use. Left to the kernel, its
threads are spread over every core anyway, and each hand-over of the GIL (at every
socket read, query and Redis call) wakes a thread on another core: an interrupt
between cores, a VM exit on a virtual machine, and a cold cache. On the benchmark
machine, keeping each process on one core cut a worker's CPU per feed by a sixth and
POST /feeds p99 at 200 requests/s by more than half (docs/benchmarks.md).

A pinned process cannot move away from a core that something else keeps busy,
the norm on a shared host (Heroku's Standard dynos). So the default, ``auto``,
pins only where the OS shows the cores as the process's own (app/placement.py),
and a pinned process leaves a core others saturate (app/affinity_watch.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable

log = logging.getLogger(__name__)


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on (all of them where the OS cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def cpu_for(index: int, allowed: Collection[int]) -> int | None:
    """The CPU for process ``index``: round-robin over ``allowed``; None for one CPU."""
    cpus = sorted(allowed)
    return cpus[index % len(cpus)] if len(cpus) > 1 else None


def least_used_cpu(taken: Iterable[int | None], allowed: Collection[int]) -> int | None:
    """The CPU of ``allowed`` that the fewest of ``taken`` (other processes' CPUs) use.

    For a process that replaces one that died: it takes the freed CPU. None for one CPU.
    """
    if len(allowed) < 2:
        return None
    counts = dict.fromkeys(sorted(allowed), 0)
    for cpu in taken:
        if cpu in counts:
            counts[cpu] += 1
    return min(counts, key=lambda cpu: (counts[cpu], cpu))


def pin_to_cpu(cpu: int | None) -> int | None:
    """Keep this process, and the threads it starts from now on, on ``cpu``.

    Returns the CPU, or None when there is none to keep to or the OS does not allow it.
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:  # a container that does not allow it
        log.info("could not keep the process on CPU %s: %s", cpu, exc)
        return None
    return cpu

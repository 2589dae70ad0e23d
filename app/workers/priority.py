"""Background work yields the CPU to web requests on a shared machine.

On Heroku a worker dyno has CPU of its own and this changes nothing. Where web
and worker share cores (``make run``, a single server), fetches finishing
together would otherwise take the CPU from requests in flight: with feeds that
all answer after the same delay, every worker thread stores its result in the
same instant, and requests arriving then waited for hundreds of milliseconds
(docs/benchmarks.md, scenario 1).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def lower_cpu_priority(increment: int, autogroup: Path = AUTOGROUP) -> None:
    """Raise this process's nice value by ``increment`` (children inherit it).

    Linux with autogroup scheduling (the default on desktop and many server
    kernels) first shares the CPU fairly between sessions, and a nice value only
    orders processes inside one session: then the session's own nice value must
    be raised too. That is done only when this process leads its session, so the
    other processes of a shell or a process manager keep their share.
    """
    if increment <= 0:
        return
    os.nice(increment)
    if os.getsid(0) != os.getpid() or not autogroup.exists():
        return
    try:
        autogroup.write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))
    except OSError as exc:  # a kernel or container that does not allow it
        log.info("could not lower the session's CPU priority: %s", exc)

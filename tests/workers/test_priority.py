"""worker.py's CPU priority: checked in child processes, so the test run keeps its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.workers.threads import SWITCH_INTERVAL
from tests.dynos import run_python

# Prints the process's nice value and its session's autogroup line after the call:
# "-" without autogroup scheduling, "default" in the kernel's root group, whose
# file is empty (containers whose sessions were all made before autogroup).
PROBE = """
import os, sys
from pathlib import Path
from app.workers.priority import lower_cpu_priority
lower_cpu_priority(int(sys.argv[1]))
group = Path("/proc/self/autogroup")
line = group.read_text().strip() or "default" if group.exists() else "-"
print(os.getpriority(os.PRIO_PROCESS, 0), line)
"""


def _probe(increment: int, *, own_session: bool) -> tuple[int, str]:
    out = run_python(PROBE, str(increment), own_session=own_session).split(maxsplit=1)
    return int(out[0]), out[1].strip()


def test_worker_lowers_its_nice_value_by_the_setting() -> None:
    start = os.getpriority(os.PRIO_PROCESS, 0)
    nice, _ = _probe(5, own_session=False)
    assert nice == min(19, start + 5)


def test_zero_leaves_the_priority_alone() -> None:
    nice, _ = _probe(0, own_session=False)
    assert nice == os.getpriority(os.PRIO_PROCESS, 0)


AUTOGROUP = Path("/proc/self/autogroup")


def test_a_session_leader_lowers_its_sessions_autogroup_too() -> None:
    nice, group = _probe(7, own_session=True)
    # On a kernel without autogroup scheduling, nice values alone order the CPU.
    assert group.endswith(f"nice {nice}") if AUTOGROUP.exists() else group == "-"


def test_a_process_inside_another_session_leaves_that_sessions_autogroup_alone() -> None:
    before = AUTOGROUP.read_text() if AUTOGROUP.exists() else None
    _probe(7, own_session=False)
    assert (AUTOGROUP.read_text() if AUTOGROUP.exists() else None) == before


def test_missing_autogroup_file_is_not_an_error(tmp_path: Path) -> None:
    # Run in a child: os.nice cannot be undone without privileges.
    code = (
        "from pathlib import Path; import os;"
        "from app.workers.priority import lower_cpu_priority;"
        f"lower_cpu_priority(1, autogroup=Path({str(tmp_path / 'none')!r})); print('ok')"
    )
    assert run_python(code).strip() == "ok"


def test_worker_threads_hold_the_gil_longer_than_pythons_default() -> None:
    # ThreadedWorkers.run with no threads: it sets the interval and returns at once.
    code = (
        "import sys; from app.workers.threads import ThreadedWorkers;"
        "w = ThreadedWorkers.__new__(ThreadedWorkers); w.workers = []; w._stop_at = None;"
        "w._recycling = False;"
        "w.run(); print(sys.getswitchinterval())"
    )
    assert float(run_python(code)) == SWITCH_INTERVAL > sys.getswitchinterval()

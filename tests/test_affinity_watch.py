"""A pinned process leaves a core that others saturate while another core idles."""

from __future__ import annotations

from app.affinity_watch import core_taken, cpu_ticks
from tests.dynos import run_python

TICKS = 100  # per second, as /proc/stat counts them


def _stat(*cpus: tuple[int, int]) -> str:
    """A /proc/stat text with the given (busy, idle) ticks per CPU."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{n} {busy} 0 0 {idle} 0 0 0 0 0 0" for n, (busy, idle) in enumerate(cpus)]
    return "\n".join(lines) + "\nintr 1 2 3\n"


BEFORE = _stat((1000, 1000), (1000, 1000))


def test_per_cpu_ticks_are_read_and_the_total_line_is_skipped() -> None:
    assert cpu_ticks(_stat((10, 90), (50, 50))) == {0: (100, 90), 1: (100, 50)}


def test_a_core_busy_with_others_work_while_another_idles_is_left() -> None:
    # Over 5 s (500 ticks per CPU): CPU 0 all busy, 1 s of it this process; CPU 1 90 % idle.
    after = _stat((1500, 1000), (1050, 1450))
    reason = core_taken(BEFORE, after, 1.0, cpu=0, allowed={0, 1}, ticks_per_second=TICKS)
    assert reason == "CPU 0 was 100% busy (80% others' work) while CPU 1 was 90% idle"


def test_a_core_busy_with_the_process_own_work_is_kept() -> None:
    after = _stat((1500, 1000), (1050, 1450))
    assert core_taken(BEFORE, after, 4.5, cpu=0, allowed={0, 1}, ticks_per_second=TICKS) is None


def test_a_core_is_kept_when_no_other_core_is_idle() -> None:
    after = _stat((1500, 1000), (1400, 1100))  # CPU 1 80 % busy
    assert core_taken(BEFORE, after, 1.0, cpu=0, allowed={0, 1}, ticks_per_second=TICKS) is None


def test_a_core_with_room_left_is_kept() -> None:
    after = _stat((1400, 1100), (1050, 1450))  # CPU 0 80 % busy
    assert core_taken(BEFORE, after, 0.0, cpu=0, allowed={0, 1}, ticks_per_second=TICKS) is None


def test_unpinning_gives_every_thread_of_the_process_its_cpus_back() -> None:
    out = run_python(
        "import os, threading, time; from app.affinity import allowed_cpus, pin_to_cpu;"
        "from app.affinity_watch import unpin_threads;"
        "everything = allowed_cpus(); pin_to_cpu(min(everything)); stop = threading.Event();"
        "t = threading.Thread(target=stop.wait); t.start();"
        "pinned = os.sched_getaffinity(t.native_id) == {min(everything)};"
        "moved = unpin_threads(everything);"
        "print(pinned, moved, os.sched_getaffinity(t.native_id) == everything,"
        " os.sched_getaffinity(0) == everything); stop.set(); t.join()"
    ).strip()
    assert out == "True 2 True True"

"""PIN_CPUS: choosing a CPU for each web or worker process, and keeping to it."""

from __future__ import annotations

from app.affinity import allowed_cpus, cpu_for, least_used_cpu
from tests.dynos import run_python


def test_worker_processes_take_the_cpus_round_robin() -> None:
    assert [cpu_for(i, {1, 0}) for i in range(4)] == [0, 1, 0, 1]
    assert [cpu_for(i, {7, 2, 5}) for i in range(4)] == [2, 5, 7, 2]


def test_a_new_web_process_takes_the_cpu_the_fewest_others_use() -> None:
    assert least_used_cpu([], {0, 1}) == 0
    assert least_used_cpu([0], {0, 1}) == 1
    assert least_used_cpu([0, 1, 1], {0, 1}) == 0
    # A process started without a CPU, or on one no longer allowed, counts for none.
    assert least_used_cpu([None, 5, 2], {2, 3}) == 3


def test_a_single_cpu_leaves_nothing_to_choose() -> None:
    assert cpu_for(0, {3}) is None
    assert least_used_cpu([], {3}) is None


def test_a_pinned_process_and_the_threads_it_starts_later_share_one_cpu() -> None:
    out = run_python(
        "import os, threading; from app.affinity import allowed_cpus, cpu_for, pin_to_cpu;"
        "cpu = pin_to_cpu(cpu_for(1, allowed_cpus())); seen = [];"
        "t = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)));"
        "t.start(); t.join(); print(cpu, sorted(os.sched_getaffinity(0)), sorted(seen[0]))"
    ).strip()
    expected = cpu_for(1, allowed_cpus())
    only = [expected] if expected is not None else sorted(allowed_cpus())
    assert out == f"{expected} {only} {only}"


def test_no_cpu_to_keep_to_changes_nothing() -> None:
    out = run_python(
        "import os; from app.affinity import pin_to_cpu; before = os.sched_getaffinity(0);"
        "print(pin_to_cpu(None), os.sched_getaffinity(0) == before)"
    ).strip()
    assert out == "None True"

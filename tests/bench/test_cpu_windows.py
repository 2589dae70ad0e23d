"""bench/cpu_windows.py: the cores each part of the box used between two readings."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from bench.cpu_windows import cores, read_cpu, settings_of


def test_cores_sum_each_parts_processes_over_the_interval() -> None:
    before = {1: ("web", 10.0), 2: ("web", 4.0), 3: ("postgres", 1.0)}
    after = {1: ("web", 10.5), 2: ("web", 4.4), 3: ("postgres", 1.2)}
    assert cores(before, after, 0.5) == {"postgres": 0.4, "web": 1.8}


def test_a_process_that_started_or_ended_between_readings_is_left_out() -> None:
    before = {1: ("worker", 2.0), 2: ("worker", 9.0)}  # 2 ends
    after = {1: ("worker", 2.3), 3: ("worker", 50.0)}  # 3 is new: its 50 s are not this second's
    assert cores(before, after, 1.0) == {"worker": 0.3}


def test_read_cpu_reads_a_live_process_and_skips_one_that_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    gone = psutil.Process(child.pid)
    child.wait()  # reaped: its pid names no process any more
    reading = read_cpu({"me": [psutil.Process(os.getpid())], "child": [gone]})
    assert list(reading) == [os.getpid()]
    assert reading[os.getpid()][0] == "me" and reading[os.getpid()][1] > 0


def test_settings_take_name_value_pairs_and_refuse_anything_else() -> None:
    assert settings_of(["GUNICORN_THREADS=2", "WEB_CONCURRENCY=4"]) == {
        "GUNICORN_THREADS": "2",
        "WEB_CONCURRENCY": "4",
    }
    with pytest.raises(ValueError):
        settings_of(["GUNICORN_THREADS"])

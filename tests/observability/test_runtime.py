"""Runtime-metrics lines (Heroku's log-runtime-metrics shape), fed known readings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from app.logs import LogfmtFormatter, logfmt
from app.observability.runtime import (
    MB,
    Readings,
    collect,
    quota_bytes,
    read_cgroup,
    report,
    sample_fields,
    warning_fields,
)

READINGS = Readings(
    load_avg_1m=0.01,
    load_avg_5m=0.2,
    load_avg_15m=1.5,
    memory_rss=100 * MB,
    memory_cache=10 * MB,
    memory_swap=0.0,
    memory_pgpgin=1234,
    memory_pgpgout=567,
    memory_quota=512 * MB,
)


def test_sample_line_has_herokus_fields_units_and_order() -> None:
    line = logfmt(sample_fields("web.1", "heroku.app.dyno", READINGS))
    assert line == (
        "source=web.1 dyno=heroku.app.dyno sample#load_avg_1m=0.01 sample#load_avg_5m=0.20"
        " sample#load_avg_15m=1.50 sample#memory_total=100.00MB sample#memory_rss=100.00MB"
        " sample#memory_cache=10.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=1234pages"
        " sample#memory_pgpgout=567pages sample#memory_quota=512.00MB"
    )


def test_memory_total_counts_swap() -> None:
    swapping = replace(READINGS, memory_swap=20 * MB)
    assert "sample#memory_total=120.00MB" in logfmt(sample_fields("w", "d", swapping))


def test_no_warning_below_90_percent_of_quota() -> None:
    assert warning_fields("web.1", "d", replace(READINGS, memory_rss=460 * MB)) is None


def test_warning_above_90_percent_of_quota(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedqueue.runtime")
    report("worker.1", "d", replace(READINGS, memory_rss=470 * MB))
    lines = [LogfmtFormatter().format(r) for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("at=info source=worker.1 dyno=d sample#load_avg_1m=")
    assert lines[1].startswith(
        "at=warn source=worker.1 dyno=d sample#memory_total=470.00MB"
        " sample#memory_quota=512.00MB memory_percent=91.8"
        ' msg="memory above 90% of quota"'
    )


@pytest.fixture
def cgroup_v2(tmp_path: Path) -> Path:
    (tmp_path / "memory.current").write_text("300000000\n")
    (tmp_path / "memory.stat").write_text("anon 1000\nfile 2097152\npgpgin 42\npgpgout 7\n")
    (tmp_path / "memory.swap.current").write_text("1048576\n")
    (tmp_path / "memory.max").write_text(f"{1024 * MB}\n")
    return tmp_path


def test_cgroup_v2_gives_cache_swap_pages_and_limit(cgroup_v2: Path) -> None:
    cgroup = read_cgroup(cgroup_v2)
    assert cgroup.cache == 2 * MB and cgroup.swap == 1 * MB
    assert (cgroup.pgpgin, cgroup.pgpgout) == (42, 7)
    assert quota_bytes(None, cgroup) == 1024 * MB


def test_unlimited_cgroup_falls_back_to_512mb(cgroup_v2: Path) -> None:
    (cgroup_v2 / "memory.max").write_text("max\n")
    assert quota_bytes(None, read_cgroup(cgroup_v2)) == 512 * MB


def test_configured_quota_wins_over_the_cgroup(cgroup_v2: Path) -> None:
    assert quota_bytes(1024.0, read_cgroup(cgroup_v2)) == 1024 * MB


def test_without_cgroup_files_quota_is_512mb(tmp_path: Path) -> None:
    assert quota_bytes(None, read_cgroup(tmp_path)) == 512 * MB


@pytest.fixture
def child_process() -> Iterator[psutil.Process]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = bytearray(30 << 20); sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    child = psutil.Process(proc.pid)
    # Wait until the child holds its 30 MB.
    while child.memory_info().rss < 30 << 20:
        assert proc.poll() is None
    yield child
    proc.communicate(b"")


def test_resident_memory_is_summed_over_the_process_tree(
    child_process: psutil.Process, cgroup_v2: Path
) -> None:
    readings = collect(os.getpid(), cgroup_root=cgroup_v2)
    own = psutil.Process().memory_full_info().pss
    # The child's 30 MB are its own pages, so they count in full.
    assert readings.memory_rss >= own + (30 << 20) * 0.9
    assert readings.memory_swap == 1 * MB  # from the cgroup

"""The drain-cost bench: which process a drain's CPU went to, per feed."""

from __future__ import annotations

import psutil
import pytest

from app.pipeline.parser_process import ParserProcess
from bench.auth_cost import cpu_seconds
from bench.drain_cost import cpu_by_pid, cpu_since, servers, summarise, worker_groups


def test_summary_gives_cpu_per_feed_and_the_parsers_share_of_the_time() -> None:
    summary = summarise(
        {"worker": 10.0, "parser": 20.0, "postgres": 8.0},
        feeds=1000,
        seconds=25.0,
        wall=26.0,
        box=45.5,
    )
    assert summary["feeds_per_s"] == 40.0
    assert summary["cpu_ms_per_feed"] == {"worker": 10.0, "parser": 20.0, "postgres": 8.0}
    assert summary["parser_utilisation"] == 0.8  # 40 feeds/s at 20 ms of parser CPU each
    assert summary["busy_cores"] == 1.75


def test_parser_processes_are_told_from_the_workers_own() -> None:
    child = ParserProcess()
    try:

        class Tree:
            def tree(self) -> list[psutil.Process]:
                return [psutil.Process(), psutil.Process(child.pid)]

        groups = worker_groups(Tree())  # type: ignore[arg-type]
        assert [p.pid for p in groups["parser"]] == [child.pid]
        assert [p.pid for p in groups["worker"]] == [psutil.Process().pid]
    finally:
        child.kill()


def test_the_machines_postgres_and_redis_are_found(db: object, redis: object) -> None:
    found = servers()
    assert found["postgres"] and found["redis"]


def test_a_process_started_after_the_first_reading_counts_from_nothing() -> None:
    me = psutil.Process()
    child = ParserProcess()
    try:
        before = cpu_by_pid([me])
        sum(range(2_000_000))  # some CPU of this process's own
        later = psutil.Process(child.pid)
        used = cpu_since([me, later], before)
        assert used == pytest.approx(
            cpu_seconds([me]) - before[me.pid] + cpu_seconds([later]), abs=0.02
        )
        assert used > 0
    finally:
        child.kill()

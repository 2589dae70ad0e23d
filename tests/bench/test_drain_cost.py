"""The drain-cost bench: which process a drain's CPU went to, per feed."""

from __future__ import annotations

import psutil

from app.pipeline.parser_process import ParserProcess
from bench.cpu_windows import postgres_processes
from bench.drain_cost import cpu_used, redis_processes, summarise, worker_groups


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
    assert postgres_processes() and redis_processes()


def test_a_process_started_after_the_first_reading_counts_from_nothing() -> None:
    before = {1: ("postgres", 5.0), 2: ("redis", 1.0)}
    # pid 3: a Postgres backend for a new connection; pid 4: the worker dyno.
    after = {1: ("postgres", 6.5), 2: ("redis", 1.25), 3: ("postgres", 2.0), 4: ("worker", 3.0)}
    assert cpu_used(before, after) == {"postgres": 3.5, "redis": 0.25, "worker": 3.0}

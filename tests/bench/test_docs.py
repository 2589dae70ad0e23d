"""docs/benchmarks.md is rendered from a results JSON: targets first, then each scenario."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.docs import render


def _load(p99: float, *, rate: float = 200.0, errors: int = 0) -> dict[str, Any]:
    return {
        "command": "BENCH_RATE=200 wrk -t2 -c64 -d10s post_feeds.lua http://127.0.0.1:8600/feeds",
        "connections": 64,
        "offered_rate": rate,
        "achieved_rate": rate,
        "requests": int(rate * 10),
        "p50_ms": p99 / 2,
        "p99_ms": p99,
        "max_ms": p99 * 2,
        "errors": errors,
        "error_rate": 0.0,
    }


def _window(per_s: float, mib: float = 300.0) -> dict[str, Any]:
    return {
        "window_s": 60.0,
        "finished": int(per_s * 60),
        "per_s": per_s,
        "per_hour_extrapolated": int(per_s * 3600),
        "memory_peak_total_mib": {"worker0": mib},
        "memory_peak_mib": {"worker0": {"worker.py": mib}},
        "state": {"failed": 0, "pending": 10},
    }


def _summary(p50: float, p99: float) -> dict[str, float]:
    return {"n": 100, "p50_ms": p50, "p90_ms": p99, "p99_ms": p99, "max_ms": p99, "mean_ms": p50}


def _burst(p99: float, deferrals: int) -> dict[str, Any]:
    return {
        "load": _load(p99),
        "jobs_finished": 60,
        "deferrals": deferrals,
        "waiting_for_host": 1900,
        "worker_cpu_s": 3.5,
        "redis_commands": 70000,
    }


@pytest.fixture
def results() -> dict[str, Any]:
    """A small run where every target is met."""
    sweep = {
        "points": [_load(20.0, rate=700.0)],
        "best_rate_within_budget": 700.0,
        "best_connections": 8,
    }
    run = {
        "processes": 1,
        "feeds": 300,
        "seconds": 3.0,
        "feeds_per_s": 100.0,
        "feeds_per_s_per_process": 100.0,
        "worker_cpu_s_per_feed_ms": 9.0,
        "memory_peak_mib": {"worker0": 200.0},
    }
    return {
        "mode": "quick",
        "started": "2026-12-01 00:00:00 UTC",
        "command": "python -m bench.run --quick",
        "machine": {
            **{k: "x" for k in ("cpu", "kernel", "python", "postgres", "redis", "wrk")},
            "cores": 2,
            "ram_gib": 23.5,
            "packages": {"Flask": "3.1.3"},
        },
        "seconds": {"web": 100.0, "retry_after": 20.0},
        "load_avg": {"web": [1.5, 1.0, 0.5], "retry_after": [1.0, 1.0, 0.5]},
        "web": {
            "isolation_feedqueue": _load(15.0),
            "isolation_naive": _load(5000.0),
            "isolation_feedqueue_unpinned": _load(12.0),
            "curve_feedqueue": [_load(15.0)],
            "throughput_post": sweep,
            "throughput_get": sweep,
            "web_memory_rest_mib": {"master": 50.0},
            "web_memory_load_peak_mib": {"master": 55.0},
        },
        "new_connections": {"load": _load(18.0), "hosts": 6000},
        "host_burst": {"one host": _burst(16.0, 1500), "6,000 hosts": _burst(15.0, 0)},
        "latency": {
            "client_submit_to_succeeded": _summary(20.0, 50.0),
            "db_created_to_finished": _summary(10.0, 20.0),
            "states": {"succeeded": 100},
            "poll_interval_ms": 5,
        },
        "retry_after": {
            "clients": 100,
            "concurrency": 10,
            "to_items": _summary(1100.0, 1300.0),
            "to_succeeded": _summary(1090.0, 1290.0),
            "polls": _summary(1.0, 1.0),
            "retry_after_seen": {"1": 200},
            "states": {"succeeded": 100},
            "with_items": 100,
            "command": "honouring_clients",
        },
        "cpu": {
            "parse_only": {"bytes_per_doc": 32000, "docs_per_s": 110.0, "ms_per_doc": 9.1},
            "runs": {"1 process": run, "1 process, refreshes": run},
            "efficiency": 0.85,
            "efficiency_refreshes": 0.95,
            "efficiency_vs_parse_feed": 0.7,
            "efficiency_refreshes_vs_parse_feed": 0.8,
        },
        "freshness": {"1 x worker.py (defaults)": _window(90.0)},
        "first_fetch": {**_window(50.0), "feeds": 5000, "submit_s": 12.0},
    }


def _targets(text: str) -> list[str]:
    head = text.split("## Targets at default settings", 1)[1].split("## Machine", 1)[0]
    return [line for line in head.splitlines() if line.startswith("| ") and "verdict" not in line]


def test_the_targets_table_comes_before_the_machine_and_every_target_is_met(
    results: dict[str, Any],
) -> None:
    text = render(results)

    rows = _targets(text)
    assert text.index("## Targets at default settings") < text.index("## Machine")
    assert len(rows) == 12
    assert all(row.endswith("| **met** |") for row in rows), rows


def test_a_measure_over_its_target_is_missed_in_the_table(results: dict[str, Any]) -> None:
    slow = copy.deepcopy(results)
    slow["new_connections"]["load"]["p99_ms"] = 41.0
    slow["retry_after"]["to_items"]["p50_ms"] = 60_000.0

    rows = _targets(render(slow))

    missed = [row for row in rows if row.endswith("| **missed** |")]
    assert len(missed) == 2
    assert any("p99 41 ms" in row for row in missed)
    assert any("p50 60.00 s" in row for row in missed)


def test_a_one_host_burst_slower_than_the_spread_one_is_missed(results: dict[str, Any]) -> None:
    slow = copy.deepcopy(results)
    slow["host_burst"]["one host"]["load"]["p99_ms"] = 84.0

    rows = _targets(render(slow))

    assert any("p99 84 ms (one host)" in row and "**missed**" in row for row in rows)


def test_the_targets_say_how_fast_this_runs_cores_are_beside_the_targets_machine(
    results: dict[str, Any],
) -> None:
    slow_box = copy.deepcopy(results)
    slow_box["machine"]["core speed (feedparser docs/s, one core)"] = 31.7

    text = render(slow_box)

    targets = text.split("## Targets at default settings", 1)[1].split("## Machine", 1)[0]
    assert "this run's parse 31.7 (0.30 times as many, measured at the start" in targets


def test_a_scenario_left_out_of_the_run_is_listed_as_not_run(results: dict[str, Any]) -> None:
    partial = {k: v for k, v in results.items() if k not in ("host_burst", "first_fetch")}

    rows = _targets(render(partial))

    assert sum("| not run | n/a |" in row for row in rows) == 3


def test_each_new_scenario_has_a_section_with_its_command(results: dict[str, Any]) -> None:
    text = render(results)

    for title in (
        "## 1b. A new TCP connection per request",
        "## 1c. One popular host against 6,000 hosts",
        "## 3b. Clients that honour Retry-After",
        "first fetch of 5,000 new feeds",
        "## Run time",
    ):
        assert title in text
    assert text.count("post_feeds.lua") >= 3
    assert "1 s: 200" in text  # the Retry-After values seen
    assert "comparison: feedqueue, PIN_CPUS=false" in text


def test_a_run_with_its_reference_around_it_shows_the_rates_before_and_after(
    results: dict[str, Any],
) -> None:
    around = copy.deepcopy(results)
    for run in around["cpu"]["runs"].values():
        run["reference"] = {"docs_per_s": {"before": 118.0, "after": 122.0, "mean": 120.0}}

    text = render(around)

    assert "feedparser docs/s before / after" in text
    assert text.count("| 118.0 / 122.0 |") == 2
    assert "measured just before and just after it" in text


def test_a_run_without_a_reference_around_it_has_no_such_column(results: dict[str, Any]) -> None:
    text = render(results)

    assert "before / after" not in text


def test_the_sweeps_repeated_runs_are_listed_under_its_table(results: dict[str, Any]) -> None:
    repeated = copy.deepcopy(results)
    repeated["web"]["throughput_post"]["repeats"] = [
        {"connections": 8, "runs": [_load(18.0, rate=r) for r in (690.0, 700.0, 720.0)]}
    ]

    text = render(repeated)

    assert "8 connections: 690.0/s (p99 18 ms), 700.0/s (p99 18 ms), 720.0/s (p99 18 ms)" in text

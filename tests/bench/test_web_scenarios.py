"""Scenario 2's best rate: the median of repeated runs at the sweep's best counts."""

from __future__ import annotations

from bench.loadgen import LoadResult
from bench.web_scenarios import _best


def _point(connections: int, rate: float, p99: float = 10.0, errors: int = 0) -> LoadResult:
    return LoadResult(
        command="wrk",
        connections=connections,
        duration_s=10.0,
        offered_rate=None,
        requests=int(rate * 10),
        achieved_rate=rate,
        errors=errors,
        error_rate=0.0,
        errors_by_kind={},
        p50_ms=p99 / 3,
        p90_ms=p99 / 2,
        p99_ms=p99,
        p999_ms=p99,
        max_ms=p99,
        mean_ms=p99 / 3,
    )


def test_the_best_rate_is_the_median_run_of_the_best_count_not_its_luckiest() -> None:
    sweep = [_point(1, 300.0), _point(2, 650.0), _point(4, 560.0), _point(8, 540.0, p99=30.0)]
    again = {2: iter([580.0, 590.0]), 4: iter([570.0, 575.0])}
    asked: list[int] = []

    def run_again(connections: int) -> LoadResult:
        asked.append(connections)
        return _point(connections, next(again[connections]))

    best = _best(sweep, run_again)

    assert asked == [2, 2, 4, 4]  # the two best counts within budget; 8 connections is over
    assert best["best_rate_within_budget"] == 590.0
    assert best["best_connections"] == 2
    assert [[r["achieved_rate"] for r in x["runs"]] for x in best["repeats"]] == [
        [580.0, 590.0, 650.0],
        [560.0, 570.0, 575.0],
    ]


def test_a_count_whose_median_run_breaks_the_budget_is_not_the_best() -> None:
    sweep = [_point(2, 650.0), _point(4, 560.0)]
    again = {2: iter([_point(2, 640.0, p99=40.0), _point(2, 645.0, p99=41.0)])}

    def run_again(connections: int) -> LoadResult:
        return next(again[connections]) if connections == 2 else _point(4, 565.0)

    best = _best(sweep, run_again)

    assert best["best_rate_within_budget"] == 565.0
    assert best["best_connections"] == 4


def test_no_point_within_the_budget_gives_no_best_rate_and_runs_nothing_again() -> None:
    def run_again(connections: int) -> LoadResult:
        raise AssertionError("nothing to run again")

    best = _best([_point(64, 700.0, p99=90.0)], run_again)

    assert best["best_rate_within_budget"] is None
    assert best["repeats"] == []

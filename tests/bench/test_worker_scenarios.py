"""Scenario 4's efficiency: each drain against the reference measured around it."""

from __future__ import annotations

import pytest

from bench import worker_scenarios
from bench.worker_scenarios import efficiency


def test_a_drain_is_measured_between_two_references_and_keeps_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    rates = iter([100.0, 140.0])

    def reference(seconds: float) -> dict[str, float]:
        calls.append("reference")
        rate = next(rates)
        return {"docs_per_s": rate, "parse_feed_docs_per_s": rate + 20}

    def drain() -> dict[str, object]:
        calls.append("drain")
        return {"feeds_per_s_per_process": 96.0}

    monkeypatch.setattr(worker_scenarios, "reference_rates", reference)
    run = worker_scenarios._around(drain)

    assert calls == ["reference", "drain", "reference"]
    assert run["reference"] == {
        "docs_per_s": {"before": 100.0, "after": 140.0, "mean": 120.0},
        "parse_feed_docs_per_s": {"before": 120.0, "after": 160.0, "mean": 140.0},
    }
    assert efficiency(run) == 0.8
    assert efficiency(run, "parse_feed_docs_per_s") == pytest.approx(0.686)


def test_a_reading_already_taken_before_a_drain_is_not_measured_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def reference(seconds: float) -> dict[str, float]:
        calls.append("reference")
        return {"docs_per_s": 110.0, "parse_feed_docs_per_s": 130.0}

    def drain() -> dict[str, object]:
        calls.append("drain")
        return {"feeds_per_s_per_process": 90.0}

    monkeypatch.setattr(worker_scenarios, "reference_rates", reference)
    previous_after = {"docs_per_s": 90.0, "parse_feed_docs_per_s": 110.0}
    run = worker_scenarios._around(drain, previous_after)

    assert calls == ["drain", "reference"]
    assert run["reference"]["docs_per_s"] == {"before": 90.0, "after": 110.0, "mean": 100.0}
    assert efficiency(run) == 0.9

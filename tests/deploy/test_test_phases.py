"""scripts/test_phases.py: how `make test`'s two phases make one exit code."""

from __future__ import annotations

import pytest

from scripts.test_phases import NOTHING_SELECTED, combined, phases


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0, 0], 0),
        ([0, NOTHING_SELECTED], 0),  # PYTEST_ARGS named files with no `alone` test
        ([NOTHING_SELECTED, 0], 0),
        ([1, 0], 1),
        ([0, 1], 1),
        ([NOTHING_SELECTED, 2], 2),
        ([1, 2], 1),
        ([NOTHING_SELECTED, NOTHING_SELECTED], NOTHING_SELECTED),  # nothing ran at all
    ],
)
def test_the_phases_fail_when_one_fails_and_pass_when_one_selects_nothing(
    codes: list[int], expected: int
) -> None:
    assert combined(codes) == expected


def test_the_alone_tests_run_last_in_one_process() -> None:
    first, last = phases("3")
    assert first[:2] == ["-n", "3"] and first[-2:] == ["-m", "not alone"]
    assert last == ["-n", "0", "-m", "alone"]

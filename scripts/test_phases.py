"""`make test`: the suite in two phases, so that some tests get the machine to themselves.

    python -m scripts.test_phases WORKERS [PYTEST_ARGS...]

First every test not marked ``alone``, spread over ``WORKERS`` pytest-xdist workers;
then the tests marked ``alone`` (they hold processes to CPU-time deadlines, which a
parallel suite's load would break) in one process. Both phases always run. A phase
that selects nothing (pytest's exit code 5, e.g. ``PYTEST_ARGS`` naming other files)
is no failure, unless neither selects anything.
"""

from __future__ import annotations

import subprocess
import sys

NOTHING_SELECTED = 5


def phases(workers: str) -> list[list[str]]:
    """pytest's options for each phase, in order."""
    return [
        # Each test to whichever worker is free. No test relies on xdist_group: with
        # pytest 9.2, --dist loadgroup ignores the mark (pytest-xdist issue 1386).
        ["-n", workers, "--dist", "load", "-m", "not alone"],
        ["-n", "0", "-m", "alone"],
    ]


def combined(codes: list[int]) -> int:
    """One exit code for the phases': the first failure's, else 0; 5 if none selected any."""
    ran = [code for code in codes if code != NOTHING_SELECTED]
    if not ran:
        return NOTHING_SELECTED
    return next((code for code in ran if code != 0), 0)


def main(argv: list[str]) -> int:
    """Run both phases with the extra pytest arguments; the combined exit code."""
    workers, *args = argv
    pytest = [sys.executable, "-m", "pytest"]
    return combined([subprocess.call([*pytest, *opts, *args]) for opts in phases(workers)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

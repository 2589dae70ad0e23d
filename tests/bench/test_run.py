"""bench/run.py's command line: which runs write docs/benchmarks.md."""

from __future__ import annotations

import pytest

from bench.run import command_line, writes_docs


@pytest.mark.parametrize(
    ("argv", "writes"),
    [
        (["--full"], True),  # every scenario at full size: the new headline
        (["--full", "--only", "latency"], False),  # a re-run of one must not replace it
        (["--full", "--only", "latency", "--docs"], True),  # unless asked to
        (["--quick"], False),
        (["--quick", "--docs"], True),
        (["--render", "a.json", "b.json"], True),  # re-runs merged into a full run
    ],
)
def test_only_a_full_run_of_every_scenario_or_an_explicit_ask_writes_the_docs(
    argv: list[str], writes: bool
) -> None:
    assert writes_docs(command_line().parse_args(argv)) is writes

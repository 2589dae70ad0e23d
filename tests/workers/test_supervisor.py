"""The supervisor's loop (app/workers/supervisor.py): when it sleeps between housekeeping."""

from __future__ import annotations

from app.workers.supervisor import Supervisor


def test_the_supervisor_calls_housekeeping_again_without_its_tick_while_it_says_busy() -> None:
    calls: list[int] = []
    supervisor: Supervisor

    def housekeeping() -> bool:
        calls.append(1)
        if len(calls) == 4:
            supervisor.stopping = True
        return True  # a full claim each time: more feeds are due

    # A tick of an hour and no children: had the loop slept after a busy pass, the test
    # would not end (the suite's timeout fails it).
    supervisor = Supervisor(
        0, lambda index, count: None, name_for=str, housekeeping=housekeeping, tick=3600
    )
    assert supervisor.run() == 0
    assert len(calls) == 4

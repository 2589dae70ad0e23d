"""The web workers' shared connection counts (app/web/worker_loads.py)."""

from __future__ import annotations

import os

from app.web.worker_loads import VACANT, WorkerLoads


def test_a_new_worker_gets_a_slot_no_live_worker_has() -> None:
    loads = WorkerLoads(3)
    assert loads.free_slot([0, 2]) == 1
    assert loads.free_slot([None, 0]) == 1
    assert loads.free_slot([0, 1, 2]) is None  # beyond WEB_CONCURRENCY: no slot


def test_a_worker_leaves_a_new_connection_to_one_holding_fewer() -> None:
    loads = WorkerLoads(2)
    loads.publish(0, 2)
    loads.publish(1, 1)
    assert loads.should_leave(0, 2)
    assert not loads.should_leave(1, 1)


def test_workers_holding_as_many_take_new_connections_in_turns() -> None:
    loads = WorkerLoads(2)
    loads.took_one(0, 1)
    loads.took_one(1, 1)  # worker 1 took the last one
    assert loads.should_leave(1, 1)
    assert not loads.should_leave(0, 1)


def test_no_connection_is_left_to_a_slot_without_a_live_worker() -> None:
    loads = WorkerLoads(2)
    loads.publish(0, 5)
    assert not loads.should_leave(0, 5)  # slot 1 was never taken
    loads.publish(1, 0)
    assert loads.should_leave(0, 5)
    loads.vacate(1)  # its worker exited
    assert not loads.should_leave(0, 5)


def test_a_worker_without_a_slot_never_leaves_a_connection() -> None:
    loads = WorkerLoads(1)
    loads.publish(0, 0)
    assert not loads.should_leave(None, 100)


def test_the_counts_are_shared_with_the_processes_forked_after_them() -> None:
    loads = WorkerLoads(2)
    pid = os.fork()
    if pid == 0:  # the worker: publish and leave at once
        loads.took_one(1, 3)
        os._exit(0)
    os.waitpid(pid, 0)
    assert loads.should_leave(0, 4)
    assert not loads.should_leave(0, 3)  # as many, and worker 1 took the last
    assert VACANT > 2**30

"""The web's gunicorn worker class, in this process (its traffic: tests/deploy/test_gunicorn.py)."""

from __future__ import annotations

import logging
import os
import selectors
import socket
import time
from collections.abc import Iterator

import pytest
from gunicorn.config import Config

from app.web.gunicorn_worker import ACCEPT_DEFER, ACCEPT_RECHECK, HEARTBEAT_EVERY, ThreadWorker
from app.web.worker_loads import WorkerLoads


def _worker() -> ThreadWorker:
    return ThreadWorker(0, os.getpid(), [], None, 20, Config(), logging.getLogger(__name__))


def test_the_heartbeat_touches_the_workers_file_once_however_often_the_loop_wakes() -> None:
    worker = _worker()
    try:
        worker.notify()
        first = worker.tmp.last_update()
        for _ in range(1000):  # a busy loop's wake-ups within one heartbeat
            worker.notify()
        assert worker.tmp.last_update() == first
        time.sleep(HEARTBEAT_EVERY)
        worker.notify()
        assert worker.tmp.last_update() > first
    finally:
        worker.tmp.close()


@pytest.fixture
def listening() -> Iterator[tuple[ThreadWorker, socket.socket]]:
    """Worker 0 of two, holding one connection, with a listener and a client waiting."""
    listener = socket.create_server(("127.0.0.1", 0))
    worker = _worker()
    worker.sockets = [listener]  # type: ignore[list-item]
    worker.poller = selectors.DefaultSelector()
    worker.loads, worker.load_slot = WorkerLoads(2), 0
    worker.nr_conns = 1
    worker.set_accept_enabled(True)
    client = socket.create_connection(listener.getsockname())
    try:
        yield worker, listener
    finally:
        client.close()
        for conn in worker.pending_conns:
            conn.sock.close()
        worker.poller.close()
        worker.tmp.close()
        listener.close()


def _leave_one(worker: ThreadWorker, listener: socket.socket) -> WorkerLoads:
    """Worker 0 (holding one connection) leaves the waiting one to worker 1 (holding none)."""
    assert worker.loads is not None
    worker.loads.publish(1, 0)
    worker.accept(listener)
    assert worker.nr_conns == 1 and not worker._accepting
    return worker.loads


def test_a_worker_holding_more_connections_leaves_a_new_one_for_a_moment(
    listening: tuple[ThreadWorker, socket.socket],
) -> None:
    worker, listener = listening
    _leave_one(worker, listener)
    time.sleep(ACCEPT_DEFER)
    # Nobody took it: accept it now, though the other worker still holds fewer.
    worker.set_accept_enabled(True)
    worker.accept(listener)
    assert worker.nr_conns == 2


def test_a_worker_leaving_a_connection_looks_again_and_takes_it_once_it_should(
    listening: tuple[ThreadWorker, socket.socket],
) -> None:
    worker, listener = listening
    loads = _leave_one(worker, listener)
    loads.took_one(1, 2)  # meanwhile the other worker took two others
    time.sleep(ACCEPT_RECHECK)
    worker.set_accept_enabled(True)
    assert worker._accepting
    worker.accept(listener)
    assert worker.nr_conns == 2  # long before ACCEPT_DEFER


def test_a_worker_holding_no_more_than_the_others_accepts_at_once(
    listening: tuple[ThreadWorker, socket.socket],
) -> None:
    worker, listener = listening
    assert worker.loads is not None
    worker.loads.took_one(1, 1)  # as many, and the other worker took the last one
    worker.accept(listener)
    assert worker.nr_conns == 2


def test_a_worker_stopping_while_it_leaves_a_connection_waits_without_spinning(
    listening: tuple[ThreadWorker, socket.socket],
) -> None:
    worker, listener = listening
    _leave_one(worker, listener)
    worker.set_accept_enabled(False)  # gunicorn's loop ends: the worker stops
    started = time.monotonic()
    worker.wait_for_and_dispatch_events(0.2)
    assert time.monotonic() - started >= 0.15  # a real wait, not a wake-up at once

"""The per-process watchdog that cuts a fetch's sockets at its deadline."""

from __future__ import annotations

import socket
import time

from app.pipeline.transport import FetchContext


def _wait_until(check: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_fetch_past_its_deadline_is_expired_and_its_socket_cut() -> None:
    left, right = socket.socketpair()
    ctx = FetchContext(time.monotonic() + 0.1)
    ctx.watch(left)
    try:
        assert _wait_until(lambda: ctx.expired)
        left.settimeout(2)
        assert left.recv(1) == b""  # shut down: reads end at once
    finally:
        ctx.close()
        left.close()
        right.close()


def test_a_finished_fetch_is_never_expired() -> None:
    ctx = FetchContext(time.monotonic() + 0.05)
    ctx.close()
    time.sleep(0.2)
    assert not ctx.expired


def test_a_sooner_deadline_is_not_kept_waiting_behind_a_later_one() -> None:
    late = FetchContext(time.monotonic() + 60)
    soon = FetchContext(time.monotonic() + 0.1)
    try:
        assert _wait_until(lambda: soon.expired, timeout=2)
        assert not late.expired
    finally:
        late.close()
        soon.close()

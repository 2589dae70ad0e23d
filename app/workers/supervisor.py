"""A small process supervisor: N forked children, restarted when they die.

A child that dies is restarted at once; a child that keeps dying (more than
``THRASH_LIMIT`` exits within ``THRASH_WINDOW`` seconds) is reported and
restarted after an exponentially growing pause, so a broken deploy does not
spin a CPU at 100 % forking doomed processes.

On SIGTERM or SIGINT (Heroku sends SIGTERM to every process of the dyno, maybe
more than once) the supervisor stops restarting, passes the signal on to its
children, waits for them up to ``stop_timeout`` seconds and then kills the rest.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

THRASH_WINDOW = 60.0
THRASH_LIMIT = 5
MAX_BACKOFF = 60.0


@dataclass
class Slot:
    """One child position; its process is replaced when it dies."""

    index: int
    pid: int | None = None
    name: str | None = None
    exits: deque[float] = field(default_factory=lambda: deque(maxlen=THRASH_LIMIT + 1))
    backoff: float = 0.0
    restart_at: float = 0.0

    def thrashing(self, now: float) -> bool:
        recent = [t for t in self.exits if now - t <= THRASH_WINDOW]
        return len(recent) > THRASH_LIMIT - 1


ChildMain = Callable[[int, str], None]
"""Runs in the child: (slot index, worker name). Its return ends the child with status 0."""


class Supervisor:
    """Fork ``size`` children running ``child_main`` and keep them alive."""

    def __init__(
        self,
        size: int,
        child_main: ChildMain,
        *,
        name_for: Callable[[int], str],
        on_child_death: Callable[[Slot, int], None] | None = None,
        housekeeping: Callable[[], bool | None] | None = None,
        tick: float = 0.5,
        stop_timeout: float = 25.0,
        planned_exits: frozenset[int] = frozenset(),
    ) -> None:
        self.slots = [Slot(i) for i in range(size)]
        self.child_main = child_main
        self.name_for = name_for
        self.on_child_death = on_child_death
        self.housekeeping = housekeeping
        self.tick = tick
        self.stop_timeout = stop_timeout
        #: Exit statuses of a child that asked to be replaced (e.g. it used too much
        #: memory): restarted at once and never counted as thrashing.
        self.planned_exits = planned_exits
        self.stopping = False

    # -- main loop -------------------------------------------------------
    def run(self) -> int:
        """Supervise until a stop signal; returns the exit status for the process."""
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        for slot in self.slots:
            self._spawn(slot)
        while not self.stopping:
            self._reap()
            self._restart_due()
            busy = False
            if self.housekeeping is not None:
                try:
                    busy = bool(self.housekeeping())
                except Exception:
                    log.exception("housekeeping failed; will try again")
            # More feeds due than one claim takes: claim again now. At 10,000,000 feeds
            # the tick's sleep after each full claim was half of every claim cycle.
            if not busy:
                time.sleep(self.tick)
        return self._stop_children()

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("supervisor: %s, stopping children", signal.Signals(signum).name)
        self.stopping = True
        # Pass every stop signal on: a child that was idle exits at once, a
        # busy one gets its warm shutdown (repeats are harmless there).
        for slot in self.slots:
            if slot.pid:
                _signal(slot.pid, signal.SIGTERM)

    # -- children --------------------------------------------------------
    def _spawn(self, slot: Slot) -> None:
        name = self.name_for(slot.index)
        pid = os.fork()
        if pid == 0:  # child
            status = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                self.child_main(slot.index, name)
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker child %s crashed", name)
                status = 1
            finally:
                logging.shutdown()
                os._exit(status)
        slot.pid, slot.name = pid, name
        log.info("supervisor: started child %s (pid %d)", name, pid)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is None:
                continue
            self._child_exited(slot, status)

    def _child_exited(self, slot: Slot, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"status {code}"
        log.warning("supervisor: child %s (pid %s) exited with %s", slot.name, slot.pid, how)
        if self.on_child_death is not None:
            try:
                self.on_child_death(slot, code)
            except Exception:
                log.exception("supervisor: recovery after %s failed", slot.name)
        slot.pid = None
        if self.stopping:
            return
        now = time.monotonic()
        if code in self.planned_exits:
            slot.restart_at = now
            return
        slot.exits.append(now)
        if slot.thrashing(now):
            slot.backoff = min(MAX_BACKOFF, max(1.0, slot.backoff * 2))
            log.error(
                "supervisor: child slot %d is thrashing (%d exits in %.0f s); next start in %.0f s",
                slot.index,
                len(slot.exits),
                THRASH_WINDOW,
                slot.backoff,
            )
        else:
            slot.backoff = 0.0
        slot.restart_at = now + slot.backoff

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.pid is None and now >= slot.restart_at:
                self._spawn(slot)

    def _stop_children(self) -> int:
        deadline = time.monotonic() + self.stop_timeout
        while any(s.pid for s in self.slots) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.1)
        for slot in self.slots:
            if slot.pid:
                log.warning("supervisor: child %s did not stop in time; killing it", slot.name)
                _signal(slot.pid, signal.SIGKILL)
                # Wait for it, so its job is requeued (on_child_death) before we exit.
                _, status = os.waitpid(slot.pid, 0)
                self._child_exited(slot, status)
        return 0

    def alive(self) -> int:
        return sum(1 for s in self.slots if s.pid)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass

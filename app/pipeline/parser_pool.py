"""A worker process's pool of parser processes: who reads which document, and when
a parser is given up on (the story is in isolation.py)."""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import FetchError
from .failures import read_timeout_error
from .models import FetchLimits, PageLinks, ParsedFeed
from .parser_lane import Lane, Request
from .parser_process import Lost, ParserProcess, Patience

log = logging.getLogger(__name__)

CPU_TO_WALL = 3  # a parser silent for this many times its CPU budget is killed
PATIENCE = 3  # ... unless still computing: then up to this many times that wall budget


@dataclass(frozen=True)
class Usage:
    """What a document cost its parser process."""

    peak_rss: int | None  # bytes: the process's high-water mark once done (None if lost)
    cpu_seconds: float | None
    replaced: bool  # the process was killed, died or retired after this document


@dataclass(frozen=True)
class Reading:
    """The outcome of one document: a feed, a page's links, or an error; and its cost."""

    outcome: ParsedFeed | PageLinks | None
    error: FetchError | None
    usage: Usage

    def result(self) -> ParsedFeed | PageLinks:
        """The outcome, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def _busy() -> FetchError:
    return FetchError(
        "timeout",
        "Every parser of this worker was busy with other feeds, or still starting; "
        "the fetch will be retried.",
    )


class ParserPool:
    """Up to `size` parser processes for one worker process, shared by its threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lanes: list[Lane] = []
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self.pid = os.getpid()

    def start(self) -> None:
        """Start the pool's processes now, rather than at the first documents."""
        with self._lock:
            while len(self._lanes) < self.size:
                self._lanes.append(Lane(ParserProcess(), self._lock))

    def read(
        self,
        body: bytes,
        headers: Mapping[str, str],
        base_url: str,
        limits: FetchLimits,
        *,
        discover: bool = True,
        deadline_at: float | None = None,
    ) -> Reading:
        """Read one document in a parser process, by the fetch's `deadline_at` if given
        (time.monotonic() based).

        Waiting for room at a parser (or for one still starting) past `deadline_at`
        raises FetchError("timeout"): the fetch is retried, like one whose server was slow.
        """
        wait_until = deadline_at
        if wait_until is None:
            wait_until = time.monotonic() + limits.parser_cpu_seconds * CPU_TO_WALL
        header = pickle.dumps((dict(headers), base_url, limits, discover), 5)
        # Sent again if its process went away before reading it: one that had died idle
        # or starting, or one stopped by the document ahead of it.
        for _attempt in range(3):
            lane, request = self._queue(wait_until)
            if self._sent(lane, request, header, body, wait_until):
                reading = self._answer(lane, request, base_url, limits, deadline_at, wait_until)
                if reading is not None:
                    return reading
        raise _busy()

    def _queue(self, wait_until: float) -> tuple[Lane, Request]:
        """A place in a lane's queue, waiting up to `wait_until` for one with room."""
        with self._lock:
            while (lane := self._lane_with_room()) is None:
                remaining = wait_until - time.monotonic()
                if remaining <= 0 or not self._room.wait(remaining):
                    raise _busy()
            request = Request()
            lane.requests.append(request)
            return lane, request

    def _lane_with_room(self) -> Lane | None:
        # An idle process (a started one before one still starting), else a new one
        # while the pool has fewer than `size`, else a place behind a busy one.
        idle = [lane for lane in self._lanes if lane.idle]
        if idle:
            return max(idle, key=lambda lane: lane.child.ready)
        if len(self._lanes) < self.size:
            lane = Lane(ParserProcess(), self._lock)
            self._lanes.append(lane)
            return lane
        queues = [lane for lane in self._lanes if lane.room]
        return min(queues, key=lambda lane: len(lane.requests)) if queues else None

    def _sent(
        self, lane: Lane, request: Request, header: bytes, body: bytes, wait_until: float
    ) -> bool:
        """Write `request` after the ones ahead of it; False if the process went away
        first (to be sent again). A process still starting at `wait_until` is kept for
        the next document, and this one gets FetchError("timeout")."""
        try:
            with self._lock:
                while not lane.gone and not lane.ahead_written(request):
                    lane.turn.wait()
                if lane.gone:
                    lane.leave(request)
                    return False
            if not lane.child.wait_ready(wait_until):
                raise _busy()
        except Lost:
            self._retire(lane, kill=True)  # it died starting: its successor may do better
            return False
        except BaseException:
            # Still starting at `wait_until`, or interrupted (the job's timeout, a
            # shutdown), before anything was written: the process is kept.
            with self._lock:
                lane.leave(request)
                self._room.notify()
            raise
        try:
            lane.child.send(header, body)
        except OSError:
            self._retire(lane, kill=True)  # it died: not this document's doing
            return False
        except BaseException:
            self._retire(lane, kill=True)  # interrupted with half a request written
            raise
        with self._lock:
            request.written = True
            lane.turn.notify_all()
        return True

    def _answer(
        self,
        lane: Lane,
        request: Request,
        base_url: str,
        limits: FetchLimits,
        deadline_at: float | None,
        wait_until: float,
    ) -> Reading | None:
        """The answer to `request`, read after those ahead of it (waiting for them up to
        `wait_until`); None if the process went away before reading it (to be sent
        again)."""
        try:
            with self._lock:
                while not lane.gone and lane.requests[0] is not request:
                    remaining = wait_until - time.monotonic()
                    if remaining <= 0:
                        raise _busy()
                    lane.turn.wait(remaining)
                if lane.gone:
                    lane.leave(request)
                    return None
                lane.reading = True
        except BaseException:
            self._abandon(lane, request)
            raise
        wall = limits.parser_cpu_seconds * CPU_TO_WALL
        late = FetchError(
            "parse_timeout", f"Reading the feed took longer than {wall:g} s; it was stopped."
        )
        now = time.monotonic()
        deadline = now + wall
        # A parser still computing within its CPU budget at the wall deadline is short
        # of a core on a busy machine, not stuck on the document: it may go on, up to
        # the fetch's deadline (or PATIENCE times the wall budget without one).
        patience = Patience(now + wall * PATIENCE, late, limits.parser_cpu_seconds)
        if deadline_at is not None:
            patience = Patience(deadline_at, read_timeout_error(limits), limits.parser_cpu_seconds)
            if deadline_at < deadline:
                deadline, late = deadline_at, patience.late  # the fetch ran out of time
        try:
            answer, (peak, cpu, stop) = lane.child.receive(deadline, late, limits, patience)
        except Lost as lost:
            peak = lane.child.peak_rss()
            self._retire(lane, kill=True, reader=True)
            log.warning(
                "parser process stopped reading %s: %s (peak RSS %s)",
                base_url,
                lost.error.code,
                peak,
            )
            return Reading(None, lost.error, Usage(peak, None, replaced=True))
        except BaseException:
            # Interrupted (the job's timeout, a shutdown) mid-document: not to be trusted.
            self._retire(lane, kill=True, reader=True)
            raise
        self._done(lane, request, retiring=stop)
        return _reading(answer, Usage(peak, cpu, replaced=stop), base_url)

    def _done(self, lane: Lane, request: Request, *, retiring: bool) -> None:
        """After the answer to the head `request`: the next request's turn, or the
        process's end if it retires, was taken out meanwhile, or the next answer is
        nobody's (its thread left: the process is replaced rather than waited for)."""
        with self._lock:
            lane.reading = False
            lane.requests.remove(request)
            end = retiring or lane.gone or (lane.requests and lane.requests[0].abandoned)
            if not end:
                lane.turn.notify_all()
                self._room.notify()
        if end:
            self._retire(lane, kill=not retiring, reader=True)

    def _abandon(self, lane: Lane, request: Request) -> None:
        # A thread interrupted while waiting for its answer.
        with self._lock:
            if lane.gone or request not in lane.requests:
                return
            if lane.requests[0] is not request:
                request.abandoned = True  # replaced once the answer ahead of it is read
                return
        self._retire(lane, kill=True)

    def _retire(self, lane: Lane, *, kill: bool, reader: bool = False) -> None:
        """Take `lane` out of service (its queued requests are sent again elsewhere);
        stop its process (kill it, or let it leave as it said it would) and start a
        successor, so the next document finds one ready."""
        with self._lock:
            first = not lane.gone
            if first:
                lane.gone = True
                self._lanes.remove(lane)
                lane.turn.notify_all()
                self._room.notify_all()
            owner = reader or not lane.reading
        if not owner:
            lane.child.stop_now()  # its reader finds the pipe closed and cleans up
            return
        if not first and not reader:
            return  # cleaned up by whoever took it out
        if kill:
            lane.child.kill()
        else:
            lane.child.close()
        try:
            successor = ParserProcess()
        except OSError:
            # Out of processes or memory for now: the next document starts one itself.
            log.exception("could not start a parser process")
            return
        with self._lock:
            if len(self._lanes) < self.size:
                self._lanes.append(Lane(successor, self._lock))
                self._room.notify_all()
                return
        successor.close()  # a document started one meanwhile

    def close(self) -> None:
        """Stop the idle parser processes (busy ones belong to their threads)."""
        with self._lock:
            idle = [lane for lane in self._lanes if lane.idle]
            for lane in idle:
                lane.gone = True
                self._lanes.remove(lane)
        for lane in idle:
            lane.child.close()

    def pids(self) -> list[int]:
        """Process ids of the idle parser processes."""
        with self._lock:
            return [lane.child.pid for lane in self._lanes if lane.idle]


def _reading(answer: tuple[object, ...], usage: Usage, base_url: str) -> Reading:
    kind = answer[0]
    if kind == "feed":
        return Reading(answer[1], None, usage)  # type: ignore[arg-type]
    if kind == "links":
        return Reading(PageLinks(list(answer[1])), None, usage)  # type: ignore[call-overload]
    if kind == "error":
        code, message = str(answer[1]), str(answer[2])
        if code in ("parse_limit", "parse_timeout"):
            log.warning(
                "parser refused %s: %s (peak RSS %s, %.2f s CPU)",
                base_url,
                code,
                usage.peak_rss,
                usage.cpu_seconds,
            )
        return Reading(None, FetchError(code, message), usage)
    raise RuntimeError(f"the parser failed on {base_url}:\n{answer[1]}")

"""Parser processes: each downloaded document is read in a child process with hard limits.

The checks before parsing (charset.py, xmlsafety.py, scan.py) refuse or trim the
attacks anyone has thought of; these limits hold for the rest. A parser process may
use ``parser_memory_mb`` of address space and ``parser_cpu_seconds`` of CPU per
document (parser_child.py); one that has not answered within three times its CPU
budget, or by the fetch's deadline, is killed, unless it is still computing within its
CPU budget (short of a core on a busy machine): that one may go on to the fetch's
deadline. Its worker process only waits: a document can cost it neither memory nor a crash, and
each of its threads parses outside its GIL.

Each worker process keeps a small pool of ``parser_processes`` children (see
parser_process.py), started with the worker (``start_parsers``) or when first needed,
reused from one document to the next, and replaced at once when one is killed, dies
or retires. Waiting for a free parser, or for one that is still starting, counts
against the fetch's deadline, so a whole fetch, parsing included, ends within
FETCH_DEADLINE; a parser that is still starting is never killed for it.
"""

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
from .parse import read_document
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
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[ParserProcess] = []
        self._lock = threading.Lock()
        self.pid = os.getpid()

    def start(self) -> None:
        """Start the pool's processes now, rather than at the first documents."""
        with self._lock:
            while len(self._idle) < self.size:
                self._idle.append(ParserProcess())

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

        Waiting for a free (or starting) parser past `deadline_at` raises
        FetchError("timeout"): the fetch is retried, like one whose server was slow.
        """
        wait_until = deadline_at
        if wait_until is None:
            wait_until = time.monotonic() + limits.parser_cpu_seconds * CPU_TO_WALL
        if not self._slots.acquire(timeout=max(wait_until - time.monotonic(), 0.0)):
            raise _busy()
        try:
            header = pickle.dumps((dict(headers), base_url, limits, discover), 5)
            child = self._sent(header, body, wait_until)
            return self._answer(child, base_url, limits, deadline_at)
        finally:
            self._slots.release()

    def _sent(self, header: bytes, body: bytes, deadline_at: float) -> ParserProcess:
        """A started parser process that has taken the request (one retry if it had died)."""
        for _attempt in range(2):
            child = self._take()
            try:
                ready = child.wait_ready(deadline_at)
            except Lost:
                child.kill()  # it died starting: its successor may do better
                continue
            except BaseException:
                self._give_back(child)  # interrupted while it starts: it is not to blame
                raise
            if not ready:
                self._give_back(child)  # still starting: the next document finds it readier
                raise _busy()
            try:
                child.send(header, body)
                return child
            except OSError:
                child.kill()  # it died while idle: not the document's doing
            except BaseException:
                self._replace(child)  # it may hold half a request
                raise
        raise _busy()

    def _answer(
        self, child: ParserProcess, base_url: str, limits: FetchLimits, deadline_at: float | None
    ) -> Reading:
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
            answer, (peak, cpu, stop) = child.receive(deadline, late, limits, patience)
        except Lost as lost:
            peak = self._replace(child)
            log.warning(
                "parser process stopped reading %s: %s (peak RSS %s)",
                base_url,
                lost.error.code,
                peak,
            )
            return Reading(None, lost.error, Usage(peak, None, replaced=True))
        except BaseException:
            # Interrupted (the job's timeout, a shutdown) mid-document: not to be trusted.
            self._replace(child)
            raise
        if stop:
            child.close()
            self._start_successor()
        else:
            self._give_back(child)
        return _reading(answer, Usage(peak, cpu, replaced=stop), base_url)

    def _replace(self, child: ParserProcess) -> int | None:
        """Kill `child`, start its successor; returns the peak RSS `child` had reached."""
        peak = child.peak_rss()
        child.kill()
        self._start_successor()
        return peak

    def _start_successor(self) -> None:
        """Start a process in place of one that left, so the next document finds it ready."""
        try:
            self._give_back(ParserProcess())
        except OSError:
            # Out of processes or memory for now: the next document starts one itself.
            log.exception("could not start a parser process")

    def _take(self) -> ParserProcess:
        with self._lock:
            # Started ones first: a process still starting is left to finish.
            ready = [i for i, child in enumerate(self._idle) if child.ready]
            if ready or self._idle:
                return self._idle.pop(ready[-1] if ready else -1)
        return ParserProcess()

    def _give_back(self, child: ParserProcess) -> None:
        with self._lock:
            self._idle.append(child)

    def close(self) -> None:
        """Stop the idle parser processes (busy ones belong to their threads)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.close()

    def pids(self) -> list[int]:
        """Process ids of the idle parser processes."""
        with self._lock:
            return [child.pid for child in self._idle]


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


_POOLS: dict[int, ParserPool] = {}
_POOLS_LOCK = threading.Lock()


def parser_pool(size: int) -> ParserPool:
    """This process's pool of `size` parser processes (a fresh one after a fork)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None or pool.pid != os.getpid():
            pool = _POOLS[size] = ParserPool(size)
        return pool


def start_parsers(limits: FetchLimits) -> None:
    """Start this process's parser processes now (a worker process, at its start)."""
    if limits.parser_processes > 0:
        parser_pool(limits.parser_processes).start()


def read_bounded(
    body: bytes,
    headers: Mapping[str, str],
    base_url: str,
    limits: FetchLimits,
    *,
    discover: bool = True,
    deadline_at: float | None = None,
) -> ParsedFeed | PageLinks:
    """parse.read_document in a parser process (in this one when parser_processes is 0)."""
    if limits.parser_processes <= 0:
        return read_document(body, headers, base_url, limits, discover=discover)
    pool = parser_pool(limits.parser_processes)
    reading = pool.read(body, headers, base_url, limits, discover=discover, deadline_at=deadline_at)
    return reading.result()

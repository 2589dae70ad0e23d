"""Parser processes: each downloaded document is read in a child process with hard limits.

The checks before parsing (charset.py, xmlsafety.py, scan.py) refuse or trim the
attacks anyone has thought of; these limits hold for the rest. A parser process may
use ``parser_memory_mb`` of address space and ``parser_cpu_seconds`` of CPU per
document (parser_child.py); one that has not answered within three times its CPU
budget (waiting for a core included), or by the fetch's deadline, is killed. Waiting
for a free parser counts against the fetch's deadline too, so a whole fetch, parsing
included, still ends within FETCH_DEADLINE. Its worker process only waits: a
document can cost it neither memory nor a crash, and each of its threads parses
outside its GIL.

Each worker process keeps a small pool of ``parser_processes`` children, started when
first needed, reused from one document to the next, and replaced when one is killed,
dies or retires. Children are fresh interpreters (subprocess, close_fds), never forks:
they share no socket, database connection or lock with the worker, whatever threads
it runs. They import the parser modules only; the app package, with Flask and
SQLAlchemy, would add 40 MB to each.

Answers come back pickled; they are unpickled with only the pipeline's result classes
allowed, so even a parser process taken over by a document could not run code in its
worker.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import FetchError
from .failures import timeout_error
from .models import FetchLimits, PageLinks, ParsedFeed
from .parse import read_document
from .parser_child import HEADER

log = logging.getLogger(__name__)

CPU_TO_WALL = 3  # a parser silent for this many times its CPU budget is killed
ROOT = Path(__file__).resolve().parents[2]
# Makes `app` and `app.pipeline` bare namespaces in the child, so importing the parser
# does not run app/__init__.py (Flask, SQLAlchemy, Redis) or the pipeline's (requests).
_BOOT = """
import sys, types
root = sys.argv[1]
sys.path.insert(0, root)
for name in ("app", "app.pipeline"):
    module = types.ModuleType(name)
    module.__path__ = [root + "/" + name.replace(".", "/")]
    sys.modules[name] = module
from app.pipeline.parser_child import main
main()
"""


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


class _Answers(pickle.Unpickler):
    """Unpickles a parser's answer, refusing every class but the result types."""

    ALLOWED = frozenset(
        {
            ("app.pipeline.models", "ParsedFeed"),
            ("app.pipeline.models", "ParsedItem"),
            ("datetime", "datetime"),
            ("datetime", "timezone"),
            ("datetime", "timedelta"),
        }
    )

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"a parser may not send {module}.{name}")
        return super().find_class(module, name)  # type: ignore[no-any-return]


class _Lost(Exception):
    """The parser process did not answer: killed at its deadline, or dead."""

    def __init__(self, error: FetchError) -> None:
        super().__init__(error.message)
        self.error = error


class _Child:
    """One parser process and its two pipes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            bufsize=0,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests = self.proc.stdin
        self.answers = self.proc.stdout.fileno()

    def send(self, header: bytes, body: bytes) -> None:
        """Write one request; OSError when the process has gone."""
        for frame in (header, body):
            self._write(HEADER.pack(len(frame)))
            self._write(frame)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self.requests.write(view)
            view = view[written or 0 :]

    def receive(
        self, limits: FetchLimits, deadline_at: float | None
    ) -> tuple[tuple[object, ...], tuple[int, float, bool]]:
        """The answer to the request just sent, by the parse's own deadline or the
        fetch's (`deadline_at`), whichever comes first."""
        wall = limits.parser_cpu_seconds * CPU_TO_WALL
        deadline = time.monotonic() + wall
        late = FetchError(
            "parse_timeout", f"Reading the feed took longer than {wall:g} s; it was stopped."
        )
        if deadline_at is not None and deadline_at < deadline:
            deadline, late = deadline_at, timeout_error(limits)  # the fetch ran out of time
        size = HEADER.unpack(self._read(HEADER.size, deadline, late, limits))[0]
        data = self._read(size, deadline, late, limits)
        answer, usage = _Answers(io.BytesIO(data)).load()
        return answer, usage

    def _read(self, size: int, deadline: float, late: FetchError, limits: FetchLimits) -> bytes:
        chunks: list[bytes] = []
        got = 0
        while got < size:
            remaining = deadline - time.monotonic()
            ready = select.select([self.answers], [], [], remaining)[0] if remaining > 0 else []
            if not ready:
                raise _Lost(late)
            chunk = os.read(self.answers, min(size - got, 1 << 20))
            if not chunk:
                raise _Lost(self._died(limits))
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _died(self, limits: FetchLimits) -> FetchError:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        log.warning("parser process %s stopped with status %s", self.proc.pid, code)
        # An allocation past the limit in native code (the HTML sanitiser) aborts the
        # process rather than raising MemoryError: the usual way to die here.
        return FetchError(
            "parse_limit",
            f"Reading the feed needed more than the {limits.parser_memory_mb} MB of memory "
            "a parser may use; it was stopped.",
        )

    def peak_rss(self) -> int | None:
        """The process's peak RSS in bytes (Linux), while it is alive."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def close(self) -> None:
        """Let the process leave (it exits when its stdin closes) and reap it."""
        try:
            self.requests.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self.proc.stdout.close()  # type: ignore[union-attr]

    def kill(self) -> None:
        """Kill the process at once and reap it."""
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass


class ParserPool:
    """Up to `size` parser processes for one worker process, shared by its threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self.pid = os.getpid()

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

        Waiting for a free parser past `deadline_at` (or past the parse's own deadline)
        raises FetchError("timeout"): the fetch is retried, like one whose server was slow.
        """
        wall = limits.parser_cpu_seconds * CPU_TO_WALL
        wait = wall if deadline_at is None else min(wall, deadline_at - time.monotonic())
        if not self._slots.acquire(timeout=max(wait, 0.0)):
            raise FetchError(
                "timeout",
                "Every parser of this worker was busy with other feeds; the fetch will be retried.",
            )
        try:
            return self._read(body, dict(headers), base_url, limits, discover, deadline_at)
        finally:
            self._slots.release()

    def _read(
        self,
        body: bytes,
        headers: dict[str, str],
        base_url: str,
        limits: FetchLimits,
        discover: bool,
        deadline_at: float | None,
    ) -> Reading:
        header = pickle.dumps((headers, base_url, limits, discover), pickle.HIGHEST_PROTOCOL)
        child = self._take()
        try:
            child.send(header, body)
        except OSError:
            # It died while idle (the document is not to blame): a fresh one reads it.
            child.kill()
            child = _Child()
            child.send(header, body)
        try:
            answer, (peak, cpu, stop) = child.receive(limits, deadline_at)
        except _Lost as lost:
            peak = child.peak_rss()
            child.kill()
            log.warning(
                "parser process stopped reading %s: %s (peak RSS %s)",
                base_url,
                lost.error.code,
                peak,
            )
            return Reading(None, lost.error, Usage(peak, None, replaced=True))
        if stop:
            child.close()
        else:
            self._give_back(child)
        usage = Usage(peak, cpu, replaced=stop)
        kind = answer[0]
        if kind == "feed":
            return Reading(answer[1], None, usage)  # type: ignore[arg-type]
        if kind == "links":
            return Reading(PageLinks(list(answer[1])), None, usage)  # type: ignore[call-overload]
        if kind == "error":
            code, message = str(answer[1]), str(answer[2])
            if code in ("parse_limit", "parse_timeout"):
                log.warning(
                    "parser refused %s: %s (peak RSS %s, %.2f s CPU)", base_url, code, peak, cpu
                )
            return Reading(None, FetchError(code, message), usage)
        raise RuntimeError(f"the parser failed on {base_url}:\n{answer[1]}")

    def _take(self) -> _Child:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Child()

    def _give_back(self, child: _Child) -> None:
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
            return [child.proc.pid for child in self._idle]


_POOLS: dict[int, ParserPool] = {}
_POOLS_LOCK = threading.Lock()


def parser_pool(size: int) -> ParserPool:
    """This process's pool of `size` parser processes (a fresh one after a fork)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None or pool.pid != os.getpid():
            pool = _POOLS[size] = ParserPool(size)
        return pool


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
    return pool.read(
        body, headers, base_url, limits, discover=discover, deadline_at=deadline_at
    ).result()

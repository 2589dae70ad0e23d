"""The worker's handle on one parser process: start it, send a document, read the answer.

A parser process is a fresh interpreter (subprocess with close_fds, never a fork), so it
shares no socket, database connection or lock with its worker, whatever threads the
worker runs. It imports only the parser modules: the app package would bring Flask,
SQLAlchemy and Redis, 40 MB more in each. It says it is ready with one byte; then each
request is two frames (see parser_child.py) and each answer one.

Answers are unpickled with only the pipeline's result classes allowed, so even a parser
process taken over by a document could not make its worker run code.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import select
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import FetchError
from .models import FetchLimits
from .parser_child import HEADER, READY

log = logging.getLogger(__name__)

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


class Answers(pickle.Unpickler):
    """Unpickles a parser's answer, refusing every class but the result types."""

    ALLOWED = frozenset(
        {
            ("app.pipeline.models", "ParsedFeed"),
            ("app.pipeline.models", "ParsedItem"),
            ("app.pipeline.models", "Enclosure"),
            ("datetime", "datetime"),
            ("datetime", "timezone"),
            ("datetime", "timedelta"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"a parser may not send {module}.{name}")
        return super().find_class(module, name)


class Lost(Exception):
    """The parser process did not answer in time, or died: it must be replaced."""

    def __init__(self, error: FetchError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class Patience:
    """How long a parser that is still computing may be waited for, and what to say then."""

    until: float
    late: FetchError
    step: float


class _Wait:
    """The deadline of one answer, moved on while the parser is short of CPU, not stuck."""

    def __init__(self, deadline: float, late: FetchError, patience: Patience | None) -> None:
        self.deadline = deadline
        self.late = late
        self.patience = patience

    def extend(self, computing: bool) -> bool:
        """Move the deadline on by one step if the parser is computing; False when not."""
        patience = self.patience
        if patience is None or not computing or self.deadline >= patience.until:
            return False
        self.deadline = min(self.deadline + patience.step, patience.until)
        if self.deadline >= patience.until:
            self.late = patience.late
        return True


#: The CPUs parser processes run on, where not the ones they inherit (set_parser_cpus).
_cpus: frozenset[int] | None = None


def set_parser_cpus(cpus: Collection[int] | None) -> None:
    """Run the parser processes this process starts from now on ``cpus`` (None: on the
    CPUs they inherit).

    A worker process kept to one core (PIN_CPUS) would pass its core on to its parser
    processes, but pinning is for the threads that share a process's GIL: a parser runs
    one thread of its own, and on its worker's core the two queue for that core while
    another may be idle (docs/benchmarks.md, scenario 4: one worker process reached 63 %
    of feedparser's rate pinned with its parser, 83 % with the kernel placing both).
    """
    global _cpus
    _cpus = frozenset(cpus) if cpus is not None else None


def _give_cpus(pid: int, cpus: frozenset[int]) -> None:
    try:
        os.sched_setaffinity(pid, cpus)
    except (OSError, AttributeError) as exc:  # exited already; a container or OS without it
        log.info("parser process %s keeps its CPUs: %s", pid, exc)


class ParserProcess:
    """One parser process and its two pipes. One thread at a time writes a request, and
    one reads an answer; answers come in the order the requests were written."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            bufsize=0,
        )
        if _cpus is not None:
            _give_cpus(self.proc.pid, _cpus)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests = self.proc.stdin
        self.answers = self.proc.stdout.fileno()
        self.ready = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, deadline: float) -> bool:
        """True once the process has started (imported the parser); False at `deadline`.

        Raises Lost if it died while starting.
        """
        if not self.ready:
            ready = self._readable(deadline)
            if not ready:
                return False
            if os.read(self.answers, 1) != READY:
                raise Lost(self._died(None))
            self.ready = True
        return True

    def send(self, header: bytes, body: bytes) -> None:
        """Write one request; OSError when the process has gone."""
        try:
            for frame in (header, body):
                self._write(HEADER.pack(len(frame)))
                self._write(frame)
        except ValueError as exc:  # its pipe was closed by the thread that ended it
            raise OSError(str(exc)) from exc

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self.requests.write(view)
            view = view[written or 0 :]

    def receive(
        self,
        deadline: float,
        late: FetchError,
        limits: FetchLimits,
        patience: Patience | None = None,
    ) -> Any:
        """The answer to the request just sent; Lost(`late`) if none came by `deadline`.

        With `patience`, a process still computing within its CPU budget at `deadline`
        (it was waiting for a core, not stuck) is given more time, up to `patience.until`.
        """
        wait = _Wait(deadline, late, patience)
        # The CPU budget is per document; the process may have read many before this one.
        spent = self._cpu_seconds()
        size = HEADER.unpack(self._read(HEADER.size, wait, limits, spent))[0]
        return Answers(io.BytesIO(self._read(size, wait, limits, spent))).load()

    def _readable(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        return bool(remaining > 0 and select.select([self.answers], [], [], remaining)[0])

    def _read(self, size: int, wait: _Wait, limits: FetchLimits, spent: float) -> bytes:
        chunks: list[bytes] = []
        got = 0
        while got < size:
            while not self._readable(wait.deadline):
                if not wait.extend(self._computing(limits.parser_cpu_seconds, spent)):
                    raise Lost(wait.late)
            chunk = os.read(self.answers, min(size - got, 1 << 20))
            if not chunk:
                raise Lost(self._died(limits))
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _died(self, limits: FetchLimits | None) -> FetchError:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        log.warning("parser process %s stopped with status %s", self.pid, code)
        if limits is None:
            return FetchError("internal_error", "The parser process could not start.")
        # An allocation past the limit in native code (the HTML sanitiser) aborts the
        # process rather than raising MemoryError: the usual way to die here.
        return FetchError(
            "parse_limit",
            f"Reading the feed needed more than the {limits.parser_memory_mb} MB of memory "
            "a parser may use; it was stopped.",
        )

    def _computing(self, cpu_budget: float, spent: float = 0.0) -> bool:
        """True while the process is runnable and has used less than `cpu_budget` of CPU
        since it had used `spent` (Linux): it is reading the document and only short of
        a core on a busy machine."""
        state, cpu = self._state()
        return state in ("R", "D") and cpu - spent < cpu_budget

    def _cpu_seconds(self) -> float:
        return self._state()[1]

    def _state(self) -> tuple[str, float]:
        """The process's state letter and the CPU seconds it has used (Linux; "?" and 0
        where /proc cannot tell)."""
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return fields[0], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return "?", 0.0

    def peak_rss(self) -> int | None:
        """The process's peak RSS in bytes (Linux), while it is alive."""
        try:
            with open(f"/proc/{self.pid}/status") as status:
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

    def stop_now(self) -> None:
        """Kill the process, leaving its pipes to the thread reading from them."""
        try:
            self.proc.kill()
        except OSError:
            pass

    def kill(self) -> None:
        """Kill the process at once and reap it."""
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass

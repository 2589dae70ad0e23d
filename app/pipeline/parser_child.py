"""The parser process: reads documents from its parent and answers with what they hold.

Started by parser_process.py as a fresh interpreter that imports only the parser (not
the app, so no Flask, SQLAlchemy, Redis or requests, and no socket of its parent). Once
started it writes one byte (READY) on stdout. Each request is two frames on stdin, a
pickled (headers, base_url, limits, discover) and the raw body; each answer one pickled
frame on stdout:

    ("feed", ParsedFeed) | ("links", [url, ...]) | ("error", code, message)
    | ("bug", traceback text)

followed by the process's peak RSS, the CPU seconds the document took, and whether the
process stops after this answer. Per document, the address space is limited to
``limits.parser_memory_mb`` (RLIMIT_AS: an allocation past it fails) and the CPU to
``limits.parser_cpu_seconds`` (ITIMER_PROF: the parse is interrupted). After either,
or once its peak RSS has passed half its allowance, the process answers and exits,
and its parent starts a fresh one when it needs one.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import struct
import time
import traceback
from typing import Any, BinaryIO

from .errors import FetchError
from .models import FetchLimits, PageLinks
from .parse import read_document

HEADER = struct.Struct("!Q")  # a frame: its length, then its bytes
READY = b"R"  # written once, when the parser modules are imported


class _OutOfCpu(BaseException):
    """Raised by the CPU timer; a BaseException, so no `except Exception` swallows it."""


def _out_of_cpu(signum: int, frame: object) -> None:
    raise _OutOfCpu


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame, or None at the end of the stream."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    data = _read_exactly(stream, size)
    if data is None:
        return None
    return data


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            return None
        got += n
    return bytes(buffer)


def write_frame(stream: BinaryIO, data: bytes) -> None:
    """Write one frame (length, then bytes) and flush it."""
    stream.write(HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _peak_rss() -> int:
    """This process's peak RSS in bytes.

    VmHWM, not getrusage's ru_maxrss: that one survives exec on Linux, so it would
    report the worker's size at the moment this process was started.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _limit_memory(megabytes: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def serve(request: tuple[Any, ...], body: bytes) -> tuple[tuple[Any, ...], bool]:
    """Read one document within its limits; returns (answer, whether to stop after it)."""
    headers, base_url, limits, discover = request
    assert isinstance(limits, FetchLimits)
    _limit_memory(limits.parser_memory_mb)
    try:
        answer, stop = _answer(body, headers, base_url, limits, discover)
    except _OutOfCpu:  # the timer fired as the document was done: it still overran
        answer, stop = _timeout(limits), True
    finally:
        # Lifted before answering: the answer must not fail for want of memory.
        _limit_memory(1 << 20)
    return answer, stop or _peak_rss() > limits.parser_memory_mb * 1024 * 1024 // 2


def _answer(
    body: bytes, headers: dict[str, str], base_url: str, limits: FetchLimits, discover: bool
) -> tuple[tuple[Any, ...], bool]:
    try:
        signal.setitimer(signal.ITIMER_PROF, limits.parser_cpu_seconds, 0.25)
        try:
            outcome = read_document(body, headers, base_url, limits, discover=discover)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    except FetchError as error:
        return ("error", error.code, error.message), False
    except _OutOfCpu:
        return _timeout(limits), True
    except MemoryError:
        message = (
            f"Reading the feed needed more than the {limits.parser_memory_mb} MB of memory "
            "a parser may use; it was stopped."
        )
        return ("error", "parse_limit", message), True
    except RecursionError:
        return ("error", "parse_limit", "The feed nests too deeply to be read."), True
    except Exception:
        return ("bug", traceback.format_exc(limit=-8)), True
    if isinstance(outcome, PageLinks):
        return ("links", outcome.links), False
    return ("feed", outcome), False


def _timeout(limits: FetchLimits) -> tuple[str, str, str]:
    message = (
        f"Reading the feed took more than {limits.parser_cpu_seconds:g} s of CPU; it was stopped."
    )
    return ("error", "parse_timeout", message)


def main() -> None:
    """Serve requests from stdin until it closes."""
    # The parent owns shutdown: at its SIGTERM (or Ctrl-C) this process finishes the
    # document in hand and leaves when its parent closes the pipe.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPROF, _out_of_cpu)
    # The protocol keeps the pipes; anything a library prints goes to stderr instead.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    answers = os.fdopen(os.dup(1), "wb")
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    os.dup2(2, 1)
    answers.write(READY)
    answers.flush()
    while True:
        header = read_frame(requests)
        body = read_frame(requests) if header is not None else None
        if header is None or body is None:
            return
        started = time.process_time()
        answer, stop = serve(pickle.loads(header), body)
        usage = (_peak_rss(), time.process_time() - started, stop)
        write_frame(answers, pickle.dumps((answer, usage), protocol=pickle.HIGHEST_PROTOCOL))
        if stop:
            return

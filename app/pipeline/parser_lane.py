"""A parser process and the documents queued on it, answered in the order written.

A parser process reads one document at a time. Between two documents its worker
process must read the answer and write the next request, and the worker's threads share
one GIL: with 48 of them, the parser sat idle for about a tenth of its time
(docs/benchmarks.md, scenario 4). So the next document waits in the process's pipe
while it reads the current one: up to DEPTH requests are written to one process, and
their threads read the answers in turn. A thread whose deadline comes while the answer
ahead of its own is still awaited leaves; its answer is nobody's, and the process is
replaced rather than waited for once the answer ahead is read.

Who may close the pipes: the thread reading an answer, while it reads; otherwise the
thread that takes the process out of service. Another thread that finds the process
broken only kills it (`ParserProcess.stop_now`), and the reader cleans up.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from .parser_process import ParserProcess

DEPTH = 2  # requests one parser process holds: the one it reads, the next in its pipe


@dataclass(eq=False)
class Request:
    """One document for a lane: written in turn, answered in the same order."""

    written: bool = False
    abandoned: bool = False  # its thread left before reading the answer


class Lane:
    """A parser process, the requests written to it (oldest first) and whose turn it is.

    Every field is guarded by the pool's lock, which `turn` shares.
    """

    def __init__(self, child: ParserProcess, lock: threading.Lock) -> None:
        self.child = child
        self.requests: deque[Request] = deque()
        self.turn = threading.Condition(lock)
        self.gone = False  # out of service: requests still in it are sent again elsewhere
        self.reading = False  # the head request's thread is reading its answer

    @property
    def idle(self) -> bool:
        return not self.requests

    @property
    def room(self) -> bool:
        """Whether a request can join the queue: behind a busy process, only one that
        has started (a starting one takes a single request, which waits for it)."""
        return not self.requests or (len(self.requests) < DEPTH and self.child.ready)

    def ahead_written(self, request: Request) -> bool:
        """Whether every request before `request` has been written whole."""
        for other in self.requests:
            if other is request:
                return True
            if not other.written:
                return False
        return True

    def leave(self, request: Request) -> None:
        """Take out a request that was never written or will never be read."""
        if request in self.requests:
            self.requests.remove(request)
        self.turn.notify_all()

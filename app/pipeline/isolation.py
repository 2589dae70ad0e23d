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
or retires. A busy parser holds the next document in its pipe (parser_lane.py), so it
goes from one document to the next without waiting for its worker's threads. Waiting
for room at a parser, for the answer ahead of one's own, or for a parser that is still
starting counts against the fetch's deadline, so a whole fetch, parsing included, ends
within FETCH_DEADLINE; a parser that is still starting is never killed for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from .models import FetchLimits, PageLinks, ParsedFeed
from .parse import read_document
from .parser_pool import ParserPool

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

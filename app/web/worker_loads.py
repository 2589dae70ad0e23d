"""How many connections each of the web dyno's gunicorn workers holds, shared between them.

gunicorn's workers all wait on one listening socket, and whichever wakes first
accepts a new connection. A kept-alive connection then stays with that worker:
two clients' connections landing on one worker left the other worker, and its
core, idle (``python -m bench.cpu_windows --rate 0 --connections 2``; the figures
are in bench/findings.md). With these counts a worker that holds more connections
than another leaves a new one to the less busy worker for a moment
(app/web/gunicorn_worker.py), much as an nginx worker holding more than its share
of connections stops competing for new ones for a while.

The counts live in memory the master maps before it forks the workers (one int a
worker, a slot each, reused by a worker's replacement), so reading them costs no
system call. A slot without a live worker reads as :data:`VACANT`, never as idle,
so that nobody leaves a connection to a worker that is gone.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable

#: The count of a slot without a live worker: more than any worker holds.
VACANT = 2**31 - 1


class WorkerLoads:
    """One connection count per worker slot, in memory shared across ``fork``."""

    def __init__(self, slots: int) -> None:
        slots = max(1, slots)
        # An anonymous shared mapping, which the workers forked after this share: a
        # count per slot, then the slot of the worker that took the last connection.
        self._memory = mmap.mmap(-1, 4 * (slots + 1))
        ints = memoryview(self._memory).cast("i")
        self._counts, self._last = ints[:slots], ints[slots:]
        for slot in range(slots):
            self._counts[slot] = VACANT
        self._last[0] = -1

    def free_slot(self, taken: Iterable[int | None]) -> int | None:
        """A slot no live worker has (in the master, before a fork); None when all are
        taken (a worker added with TTIN beyond WEB_CONCURRENCY: it takes part in no
        balancing and is left to the kernel, as before)."""
        used = set(taken)
        return next((slot for slot in range(len(self._counts)) if slot not in used), None)

    def publish(self, slot: int | None, connections: int) -> None:
        """Say that the worker in ``slot`` holds ``connections`` connections."""
        if slot is not None:
            self._counts[slot] = connections

    def vacate(self, slot: int | None) -> None:
        """The worker in ``slot`` is gone (in the master, when it exits)."""
        self.publish(slot, VACANT)

    def took_one(self, slot: int | None, connections: int) -> None:
        """The worker in ``slot`` accepted a connection and now holds ``connections``."""
        self.publish(slot, connections)
        if slot is not None:
            self._last[0] = slot

    def should_leave(self, slot: int | None, connections: int) -> bool:
        """True when the worker in ``slot``, holding ``connections``, should leave a new
        connection to another: one holds fewer, or as many while this one took the last.

        The tie rule makes workers holding as many take new connections in turns,
        instead of whichever wakes first taking them all: a connection that is about
        to close (a client's probe, one closed a moment ago) still counts for a moment.
        """
        if slot is None:
            return False
        took_last = self._last[0] == slot
        return any(
            count < connections or (took_last and count == connections)
            for other, count in enumerate(self._counts)
            if other != slot
        )

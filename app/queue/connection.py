"""Redis clients, built with the options app.config gives every client of a URL."""

from __future__ import annotations

import threading

from redis import BlockingConnectionPool, Redis
from redis.connection import Connection

from app.config import redis_client_options

#: Seconds a thread waits for a free connection of a bounded pool before it gets
#: a ConnectionError (as if Redis did not answer): the pool is the budget's cap.
POOL_WAIT = 10


def redis_from_url(url: str, **overrides: object) -> Redis:
    """A Redis client for ``url`` with the options config gives it (``overrides`` win)."""
    return Redis.from_url(url, **{**redis_client_options(url), **overrides})  # type: ignore[arg-type]


class ThreadSharingPool(BlockingConnectionPool):
    """A bounded pool where a thread never holds two connections at once.

    RQ sometimes issues a command while the same thread holds another connection
    (a job deleted from inside the watched pipeline that records its success
    reads the job's status, its executions, …). On a small bounded pool, threads
    doing so at once each hold one connection and wait for another, until the
    pool's timeout fails them all. Here a thread that already holds a connection
    gets that same one again: its commands run one after the other anyway.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._held = threading.local()

    def get_connection(self, *args: object, **kwargs: object) -> Connection:
        held = getattr(self._held, "connection", None)
        if held is not None and self._held.pid == self.pid:
            self._held.depth += 1
            return held  # type: ignore[no-any-return]
        connection = super().get_connection(*args, **kwargs)  # type: ignore[arg-type]
        self._held.connection, self._held.depth, self._held.pid = connection, 1, self.pid
        return connection  # type: ignore[no-any-return]

    def release(self, connection: Connection) -> None:  # type: ignore[override]
        if getattr(self._held, "connection", None) is connection:
            self._held.depth -= 1
            if self._held.depth > 0:
                return  # an outer use in this thread still holds it
            self._held.connection = None
        super().release(connection)


def bounded_pool(
    url: str, max_connections: int, *, wait: float = POOL_WAIT, **overrides: object
) -> BlockingConnectionPool:
    """A pool of at most ``max_connections`` to ``url``; a thread that finds them all in
    use waits (up to ``wait`` s) instead of opening another connection, and a thread
    never holds two (:class:`ThreadSharingPool`)."""
    return ThreadSharingPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait,
        **{**redis_client_options(url), **overrides},  # type: ignore[arg-type]
    )


def bounded_redis(
    url: str, max_connections: int, *, wait: float = POOL_WAIT, **overrides: object
) -> Redis:
    """A Redis client whose threads share at most ``max_connections`` connections."""
    return Redis(connection_pool=bounded_pool(url, max_connections, wait=wait, **overrides))

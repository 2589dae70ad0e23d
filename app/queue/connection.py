"""Redis clients, built with the options app.config gives every client of a URL."""

from __future__ import annotations

from redis import BlockingConnectionPool, Redis

from app.config import redis_client_options

#: Seconds a thread waits for a free connection of a bounded pool before it gets
#: a ConnectionError (as if Redis did not answer): the pool is the budget's cap.
POOL_WAIT = 10


def redis_from_url(url: str, **overrides: object) -> Redis:
    """A Redis client for ``url`` with the options config gives it (``overrides`` win)."""
    return Redis.from_url(url, **{**redis_client_options(url), **overrides})  # type: ignore[arg-type]


def bounded_pool(
    url: str, max_connections: int, *, wait: float = POOL_WAIT, **overrides: object
) -> BlockingConnectionPool:
    """A pool of at most ``max_connections`` to ``url``; a thread that finds them all in
    use waits (up to ``wait`` s) instead of opening another connection."""
    return BlockingConnectionPool.from_url(
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

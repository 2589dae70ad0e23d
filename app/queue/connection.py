"""Redis clients, built with the options app.config gives every client of a URL."""

from __future__ import annotations

from redis import Redis

from app.config import redis_client_options


def redis_from_url(url: str, **overrides: object) -> Redis:
    """A Redis client for ``url`` with the options config gives it (``overrides`` win)."""
    return Redis.from_url(url, **{**redis_client_options(url), **overrides})  # type: ignore[arg-type]

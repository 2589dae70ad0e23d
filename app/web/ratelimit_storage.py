"""Flask-Limiter's Redis storage, with the window's count and expiry from the hit itself.

With headers enabled, Flask-Limiter counts a request with one script (``INCRBY``
and, for a new window, ``EXPIRE``) and then, for its ``X-RateLimit-*`` headers
and a 429's ``Retry-After``, asks Redis again for the count (``GET``) and the
window's end (``TTL``): three round trips per rate-limited request, where the
first already knows both. This storage's script answers the count and the TTL
together, and remembers them for the rest of the request (in its WSGI environ), so
the headers cost nothing more: POST /feeds went from 5 Redis round trips to 3
(``python -m bench.round_trips``).

It is limits' own ``RedisStorage`` (same keys, same pool) under the schemes
``feedqueue+redis``, ``feedqueue+rediss`` and ``feedqueue+redis+unix``
(:func:`storage_uri`); limits finds a storage by its URI's scheme. Outside a
request, or for a key this request did not count, it reads Redis as before.
"""

from __future__ import annotations

import time

from flask import has_request_context, request
from limits.storage import RedisStorage

SCHEME_PREFIX = "feedqueue+"
_ENVIRON_KEY = "feedqueue.ratelimit_windows"

# INCRBY, EXPIRE for a new window, and the TTL: limits' incr_expire.lua plus the TTL.
_INCR_EXPIRE_TTL = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


def storage_uri(uri: str) -> str:
    """The limiter's storage URI for ``uri``: this storage for Redis, others unchanged."""
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        return SCHEME_PREFIX + uri
    return uri


def _seen() -> dict[str, tuple[int, float]] | None:
    """This request's counts and expiries by key; None outside a request.

    Kept in the request's environ, not ``g``: an app context (and its ``g``) can
    outlive many requests, a request's environ cannot.
    """
    if not has_request_context():
        return None
    return request.environ.setdefault(_ENVIRON_KEY, {})


class HitWindowRedisStorage(RedisStorage):
    """limits' Redis storage whose ``incr`` also learns the window's expiry."""

    STORAGE_SCHEME = [SCHEME_PREFIX + scheme for scheme in ("redis", "rediss", "redis+unix")]

    def __init__(self, uri: str, **options: object) -> None:
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)  # type: ignore[arg-type]

    def initialize_storage(self, uri: str) -> None:
        """Register limits' scripts and this storage's own (SHA computed here, loaded lazily)."""
        super().initialize_storage(uri)
        self.lua_incr_expire_ttl = self.get_connection().register_script(_INCR_EXPIRE_TTL)

    def load_scripts(self) -> None:
        """Load this storage's script into Redis now (a worker's warm-up), not on first use."""
        self.get_connection().script_load(_INCR_EXPIRE_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` in ``key``'s window; remember its count and end for this request."""
        current, ttl = self.lua_incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        seen = _seen()
        if seen is not None:
            seen[key] = (int(current), max(int(ttl), 0) + time.time())
        return int(current)

    def get(self, key: str) -> int:
        """The count in ``key``'s window: as this request's hit left it, else from Redis."""
        seen = _seen()
        if seen is not None and key in seen:
            return seen[key][0]
        return super().get(key)

    def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends (epoch seconds): from this request's hit, else Redis."""
        seen = _seen()
        if seen is not None and key in seen:
            return seen[key][1]
        return super().get_expiry(key)

    def clear(self, key: str) -> None:
        """Forget ``key``'s window in Redis and in this request."""
        seen = _seen()
        if seen is not None:
            seen.pop(key, None)
        super().clear(key)

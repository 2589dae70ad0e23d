"""Per-host politeness shared by every worker process and dyno, kept in Redis.

At most ``concurrency`` fetches run against one host at a time, and at most
``per_minute`` start within any 60 seconds. A fetch over budget is deferred
(its job is rescheduled), never failed. Both checks and the reservation run
in one Lua script, so two workers cannot both take the last slot. Leases
expire on their own, so a worker killed mid-fetch does not hold its slot.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis import Redis

# KEYS: running-set, started-set. ARGV: now, lease id, lease ttl, concurrency, per_minute.
# Returns 0 when the lease was taken, else the seconds to wait (rounded up).
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 1
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil(tonumber(oldest[2]) + 60 - now))
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
redis.call('EXPIRE', KEYS[2], 120)
return 0
"""


@dataclass(frozen=True)
class Lease:
    host: str
    token: str


class HostBudget:
    """Admission control for fetches per host."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        concurrency: int,
        per_minute: int,
        lease_seconds: float,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.concurrency = concurrency
        self.per_minute = per_minute
        self.lease_seconds = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE)

    def _keys(self, host: str) -> list[str]:
        return [f"{self.prefix}:host:{host}:running", f"{self.prefix}:host:{host}:started"]

    def acquire(self, host: str) -> Lease | float:
        """Take a slot for ``host``: a Lease, or the seconds to wait before trying again."""
        token = uuid.uuid4().hex
        wait = self._acquire(
            keys=self._keys(host),
            args=[time.time(), token, self.lease_seconds, self.concurrency, self.per_minute],
        )
        return Lease(host, token) if int(wait) == 0 else float(wait)

    def release(self, lease: Lease) -> None:
        """Give the slot back (the per-minute count keeps the start)."""
        self.redis.zrem(self._keys(lease.host)[0], lease.token)

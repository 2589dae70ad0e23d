"""Per-host politeness shared by every worker process and dyno, kept in Redis.

At most ``concurrency`` fetches run against one host at a time, and at most
``per_minute`` start within any 60 seconds. Both checks and the reservation run
in one Lua script, so two workers cannot both take the last slot. Leases
expire on their own, so a worker killed mid-fetch does not hold its slot.

A fetch over budget is never failed, and no longer polls: its job waits in
RQ's scheduled registry (a fallback time ``PARK_FALLBACK`` s out) and its id
waits in the host's list (:meth:`HostBudget.park`). Whoever frees a slot
hands it to the host's first waiter in the same script: the release of a
lease (:meth:`HostBudget.release`), a newcomer that finds waiters ahead of it,
and, for slots that free on their own (a dead worker's lease expiring, the
per-minute window moving on), the supervisor's periodic :meth:`HostBudget.sweep`
of the hosts whose next slot is due. A waiter costs no work while it waits:
one park and one promotion per job, whatever the wait.

Nothing is lost if a list goes: the job is still in RQ's scheduled registry,
where RQ's scheduler runs it at the fallback time, and its fetch is still
queued in Postgres, where the reconciler finds it if the job itself goes.
A job is promoted only by removing it from the scheduled registry in the same
script, so a waiter listed twice, or promoted by two workers, runs once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis import Redis
from rq import Queue, Retry
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.utils import now as rq_now
from rq.utils import utcformat

#: Seconds a waiting job stays in RQ's scheduled registry before RQ's scheduler
#: runs it anyway (it then asks for a slot again): the safety net if its host's
#: list is lost, not the way a waiter normally leaves.
PARK_FALLBACK = 600
#: A waiter due in RQ's scheduled registry within this many seconds is left to RQ's
#: scheduler, which may be moving it right now: a job is never pushed twice.
SCHEDULER_MARGIN = 5
#: Lifetime of the wait lists and indexes, renewed whenever they are used.
WAIT_TTL = PARK_FALLBACK + 60
#: Deferrals and retries are counted by the fetch row, not by RQ.
NO_LIMIT = 1_000_000
#: Most waiters one script looks at (promoted or found stale) before it lets others run.
MAX_STEPS = 100

# KEYS: running, started, the host's waiters (list), waiting jobs (zset, all hosts),
#       hosts with waiters (zset: host -> when its next slot may open).
# ARGV: now, lease ttl, concurrency, per_minute, host, job key prefix, queue key prefix,
#       scheduled registry key prefix, enqueued_at (RQ's format), token (or ''), margin,
#       most waiters looked at, lifetime of the wait keys.
_COMMON = """
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local concurrency = tonumber(ARGV[3])
local per_minute = tonumber(ARGV[4])
local host = ARGV[5]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)

-- nil when a slot is free, else the time one may open.
local function opens()
  if redis.call('ZCARD', KEYS[1]) >= concurrency then
    return tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  end
  if redis.call('ZCARD', KEYS[2]) >= per_minute then
    return tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]) + 60
  end
  return nil
end

local function take(token)
  redis.call('ZADD', KEYS[1], now + ttl, token)
  redis.call('ZADD', KEYS[2], now, token .. ':' .. now)
  redis.call('EXPIRE', KEYS[1], math.ceil(ttl) + 60)
  redis.call('EXPIRE', KEYS[2], 120)
end

-- Hand free slots to the host's waiters, first come first served: each takes its
-- lease now and goes to the front of its queue. Returns the promoted job ids.
local function promote()
  local promoted = {}
  for _ = 1, tonumber(ARGV[12]) do
    local next_slot = opens()
    if next_slot then
      if redis.call('LLEN', KEYS[3]) > 0 then
        redis.call('ZADD', KEYS[5], next_slot, host)
        redis.call('EXPIRE', KEYS[5], tonumber(ARGV[13]))
        redis.call('EXPIRE', KEYS[3], tonumber(ARGV[13]))
      else
        redis.call('ZREM', KEYS[5], host)
      end
      return promoted
    end
    local id = redis.call('LPOP', KEYS[3])
    if not id then
      redis.call('ZREM', KEYS[5], host)
      return promoted
    end
    redis.call('ZREM', KEYS[4], id)
    local job = ARGV[6] .. id
    local origin = redis.call('HGET', job, 'origin')
    if origin then
      local scheduled = ARGV[8] .. origin
      local at = redis.call('ZSCORE', scheduled, id)
      -- Not scheduled: already run or gone (stale entry). Due soon: RQ's scheduler's.
      if at and tonumber(at) > now + tonumber(ARGV[11]) then
        redis.call('ZREM', scheduled, id)
        take(id)
        redis.call('LPUSH', ARGV[7] .. origin, id)
        redis.call('HSET', job, 'status', 'queued', 'enqueued_at', ARGV[9])
        table.insert(promoted, id)
      end
    end
  end
  -- More to look at than one call may: the sweep comes back at once.
  redis.call('ZADD', KEYS[5], now, host)
  return promoted
end
"""

# Returns 0 when the lease was taken (or was handed over by a release), else the
# seconds until a slot may open (at least 1).
_ACQUIRE = (
    _COMMON
    + """
local token = ARGV[10]
if redis.call('ZSCORE', KEYS[1], token) then
  redis.call('ZADD', KEYS[1], now + ttl, token)
  return 0
end
if redis.call('LLEN', KEYS[3]) > 0 then
  -- Waiters come first: a free slot is theirs, and the newcomer queues behind them.
  promote()
  local next_slot = opens()
  return next_slot and math.max(1, math.ceil(next_slot - now)) or 1
end
local next_slot = opens()
if next_slot then
  return math.max(1, math.ceil(next_slot - now))
end
take(token)
return 0
"""
)

# Frees the lease ARGV[10] (none when ''), then hands free slots to waiters.
_RELEASE = (
    _COMMON
    + """
if ARGV[10] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[10])
end
return promote()
"""
)

# Lists job ARGV[10] (already in RQ's scheduled registry) as waiting for the host,
# unless it is listed already (it keeps its place), then promotes what a free slot allows.
_PARK = (
    _COMMON
    + """
local id = ARGV[10]
if redis.call('ZADD', KEYS[4], now, id) == 1 then
  redis.call('RPUSH', KEYS[3], id)
end
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[13]))
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[13]))
redis.call('ZADD', KEYS[5], now, host)
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[13]))
return promote()
"""
)


def waiting_jobs_key(prefix: str) -> str:
    """The index of every job waiting for a slot of its host (a sorted set by park time)."""
    return f"{prefix}:hostwait:jobs"


@dataclass(frozen=True)
class Lease:
    host: str
    token: str


class HostWait(Retry):
    """What a fetch job returns when its host is over budget: RQ schedules the job
    ``PARK_FALLBACK`` s out, and the worker then parks it in the host's list."""

    def __init__(self, host: str, wait: float) -> None:
        super().__init__(max=NO_LIMIT, interval=PARK_FALLBACK)
        self.host = host
        self.wait = wait


class HostBudget:
    """Admission control for fetches per host, with a wait list per host."""

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
        self.jobs_key = waiting_jobs_key(prefix)
        self.hosts_key = f"{prefix}:hostwait:hosts"
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._park = redis.register_script(_PARK)

    def _keys(self, host: str) -> list[str]:
        base = f"{self.prefix}:host:{host}"
        return [f"{base}:running", f"{base}:started", f"{base}:waiting", self.jobs_key,
                self.hosts_key]  # fmt: skip

    def _args(self, host: str, token: str) -> list[object]:
        return [
            time.time(),
            self.lease_seconds,
            self.concurrency,
            self.per_minute,
            host,
            Job.redis_job_namespace_prefix,
            Queue.redis_queue_namespace_prefix,
            ScheduledJobRegistry.key_template.format(""),
            utcformat(rq_now()),
            token,
            SCHEDULER_MARGIN,
            MAX_STEPS,
            WAIT_TTL,
        ]

    def acquire(self, host: str, token: str | None = None) -> Lease | float:
        """Take a slot for ``host``: a Lease, or the seconds until one may free.

        ``token`` names the lease (the fetch id): a slot a release handed to that
        fetch while it waited is found under it.
        """
        token = token or uuid.uuid4().hex
        wait = self._acquire(keys=self._keys(host), args=self._args(host, token))
        return Lease(host, token) if int(wait) == 0 else float(wait)

    def release(self, lease: Lease) -> list[str]:
        """Give the slot back (the per-minute count keeps the start), handing it to
        the host's first waiter if it has one; returns the job ids promoted."""
        keys, args = self._keys(lease.host), self._args(lease.host, lease.token)
        return _ids(self._release(keys=keys, args=args))

    def park(self, host: str, job_id: str) -> list[str]:
        """List job ``job_id``, already in RQ's scheduled registry, as waiting for
        ``host``; if a slot is free by now it is promoted at once (returned)."""
        return _ids(self._park(keys=self._keys(host), args=self._args(host, job_id)))

    def sweep(self, limit: int = 100) -> list[str]:
        """Promote waiters of hosts whose next slot is due: slots that freed without a
        release (an expired lease, the per-minute window). One read when none is due."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self.jobs_key, "-inf", now - WAIT_TTL)
        pipe.zrangebyscore(self.hosts_key, "-inf", now, start=0, num=limit)
        due = pipe.execute()[1]
        promoted: list[str] = []
        for raw in due:
            host = raw.decode()
            promoted += _ids(self._release(keys=self._keys(host), args=self._args(host, "")))
        return promoted

    def waiting(self) -> int:
        """How many jobs wait for a slot of their host, all hosts together."""
        return int(self.redis.zcard(self.jobs_key))


def _ids(raw: object) -> list[str]:
    return [item.decode() if isinstance(item, bytes) else str(item) for item in raw or []]  # type: ignore[union-attr]

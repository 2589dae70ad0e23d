"""Putting a feed's icon search on the icons queue: one job per feed at most, and
never more than ``QUEUE_MAX_JOBS`` waiting.

The fetch job asks for a search when its feed's icon is due (app.jobs.icons); the
search runs later as a job of its own on the last of the queues workers listen to,
so it takes a worker thread only when no fetch is waiting. The job id is the feed's
(:func:`icon_job_id`): while a search of the feed is queued or running, asking again
does nothing. The queue holds a quarter of ``QUEUE_MAX_JOBS`` (:func:`icons_max_jobs`);
when it is full the request is dropped, not kept: the icon is still due, and the
feed's next fetch asks again. Fetches never wait for room here, and icon jobs never
count against the fetch queues' room (app.queue.backpressure).
"""

from __future__ import annotations

from enum import Enum

from rq.utils import now

from app.queue.queues import QUEUED_JOB_TTL, Queues

ICON_FUNC = "app.jobs.icons.run_icon_search"

#: The icons queue holds QUEUE_MAX_JOBS // ICONS_SHARE jobs. An icon job carries the
#: icon URL the feed named, so its hash is not compact: 1,844 bytes with a 74-character
#: URL against a submission job's 704 (docs/operations.md#redis-memory); a quarter
#: keeps a full icons queue below a full submissions queue in Redis memory.
ICONS_SHARE = 4

#: Seconds a crashed search's job is kept in RQ's failed registry; meanwhile the
#: feed's icon is not asked for again (as after a search that found nothing).
FAILURE_TTL = 24 * 3600

# Checks room and uniqueness and enqueues in one step, as RQ's own unique enqueue
# does (rq.scripts), with the queue's depth checked first.
# KEYS: the job's hash, the queue's list, RQ's set of queues.
# ARGV: most jobs the queue may hold, job id, job hash TTL, then field, value, ...
_ENQUEUE = """
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[1]) then
  return -1
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], KEYS[2])
return 1
"""


class Asked(Enum):
    """What asking for an icon search did."""

    QUEUED = "queued"
    ALREADY = "already"  # a search of this feed is queued or running
    FULL = "full"  # the icons queue holds QUEUE_MAX_JOBS jobs


def icons_max_jobs(queue_max_jobs: int) -> int:
    """How many jobs the icons queue may hold, from QUEUE_MAX_JOBS (at least one)."""
    return max(1, queue_max_jobs // ICONS_SHARE)


def icon_job_id(prefix: str, feed_id: int) -> str:
    """The RQ job id of feed ``feed_id``'s icon search (one per feed at a time).

    Prefixed like the queues: apps sharing a Redis have feeds with the same ids."""
    return f"{prefix}-icon-{feed_id}"


def enqueue_icon_search(
    queues: Queues, feed_id: int, declared_url: str | None, *, max_jobs: int
) -> Asked:
    """Queue a search for the feed's icon, in one Redis round trip, unless one is
    queued or running already, or the icons queue holds ``max_jobs`` (see
    :func:`icons_max_jobs`).

    ``declared_url`` is the icon the feed's document names (it is not stored with
    the feed); the job reads the feed's site and address from Postgres when it runs.
    """
    settings = queues.settings
    queue = queues.icons
    job = queue.create_job(
        ICON_FUNC,
        args=(feed_id, declared_url),
        job_id=icon_job_id(settings.queue_prefix, feed_id),
        timeout=settings.job_timeout,
        ttl=QUEUED_JOB_TTL,
        result_ttl=0,  # what was found lives in Postgres
        failure_ttl=FAILURE_TTL,
        description=f"icon of feed {feed_id}",
    )
    job.origin = queue.name
    job.enqueued_at = now()
    fields: list[str | bytes] = []
    for key, value in job.to_dict().items():
        if value is not None:  # as RQ builds the hash for its own unique enqueue
            fields += [key, value if isinstance(value, str | bytes) else str(value)]
    script = queues.redis.register_script(_ENQUEUE)
    answer = int(
        script(  # type: ignore[arg-type]
            keys=[job.key, queue.key, queue.redis_queues_keys],
            args=[max_jobs, job.id, QUEUED_JOB_TTL, *fields],
        )
    )
    if answer < 0:
        return Asked.FULL
    return Asked.QUEUED if answer else Asked.ALREADY

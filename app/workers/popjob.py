"""Taking the next waiting job with its hash, in one Redis round trip.

RQ's dequeue pops a job id (``LPOP`` per queue, in priority order, or one
``BLPOP``) and then reads the job's hash (``HGETALL``): two round trips per
job, three when the first queue is empty. A worker with a backlog takes the
next job with one script instead; only an empty backlog is waited on, with
RQ's blocking pop. Like RQ's ``LPOP``, the script leaves no trace of a job
taken by a worker that dies before starting it; the reconciler finds its fetch
queued with no job and enqueues it again (app/workers/housekeeping.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis import Redis
from redis.commands.core import Script
from rq import Queue
from rq.job import Job

if TYPE_CHECKING:
    from app.workers.rqworker import FeedWorker

#: KEYS: the queues' lists, most urgent first; ARGV[1]: the job hash key prefix.
#: Returns {queue key, job id, the job's hash as a flat list} or false. The job
#: hash's key is not in KEYS: fine on one Redis server, which is what Heroku's
#: Key-Value Store is (not a cluster).
POP_SCRIPT = """
for _, key in ipairs(KEYS) do
  local id = redis.call('LPOP', key)
  while id do
    local fields = redis.call('HGETALL', ARGV[1] .. id)
    if #fields > 0 then
      return {key, id, fields}
    end
    id = redis.call('LPOP', key)  -- its hash expired: the next one
  end
end
return false
"""

_script: Script | None = None


def pop_ready(worker: FeedWorker, redis: Redis) -> tuple[Job, Queue] | None:
    """The first job waiting on ``worker``'s queues (in their order) and its queue,
    through ``redis``; None when every queue is empty. Never blocks."""
    global _script
    if _script is None:
        _script = redis.register_script(POP_SCRIPT)  # EVALSHA, loaded again if Redis lost it
    queues = worker._ordered_queues
    found = _script(
        keys=[q.key for q in queues],
        args=[worker.job_class.redis_job_namespace_prefix],
        client=redis,
    )
    if not found:
        return None
    queue_key, job_id, flat = found
    job = worker.job_class(job_id.decode(), connection=redis, serializer=worker.serializer)
    job.restore(dict(zip(flat[0::2], flat[1::2], strict=True)))
    queue = worker.queue_class.from_queue_key(
        queue_key.decode(),
        connection=redis,
        job_class=worker.job_class,
        serializer=worker.serializer,
        death_penalty_class=worker.death_penalty_class,
    )
    return job, queue

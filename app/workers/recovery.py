"""Putting a dead worker's job back at once, instead of after RQ's maintenance interval.

RQ notices an abandoned job only when its maintenance task runs (every 10
minutes by default). The supervisor sees a child die the moment it happens,
so it can requeue that child's job right away: at the front of its queue after
a planned stop (the grace period ran out), at the back after a crash, and not
at all once its fetch has crashed too often (app/jobs/crashes.py).
"""

from __future__ import annotations

import logging
import uuid

from redis.exceptions import RedisError
from rq import Worker

from app.context import JobContext
from app.jobs.crashes import settle_orphans
from app.queue import registry
from app.storage.fetches import fetches_of_job, mark_enqueued
from app.storage.models import FetchTrigger

log = logging.getLogger(__name__)


def recover_worker_job(ctx: JobContext, worker_name: str, *, crashed: bool = True) -> str | None:
    """Requeue the job a dead worker was running; returns its id, if any.

    ``crashed``: the process died unplanned (not at the end of a shutdown's
    grace period), so its running fetches count a crash and go to the back.
    """
    redis = ctx.queues.redis
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + worker_name, connection=redis
    )
    if worker is None:
        return None
    job_id = worker.get_current_job_id()
    worker.register_death()
    if not job_id:
        return None
    try:
        job_key = uuid.UUID(job_id)
    except ValueError:
        return None
    with ctx.db.session() as session:
        # A fetch's own job, or a batch of refreshes: each unfinished one goes back alone.
        orphans = fetches_of_job(session, job_key)
        revived = settle_orphans(ctx, session, orphans, crashed=crashed)
        session.commit()
    own_job = len(orphans) == 1 and orphans[0].id == job_key
    if orphans and (not own_job or not revived):
        registry.drop_job(ctx.queues, job_id)  # a batch job, or a quarantined fetch's job
    if not revived:
        return None  # already finished (it died after recording), quarantined, or unknown
    enqueue_again(ctx, revived, at_front=not crashed)
    log.warning("recovered job %s of dead worker %s", job_id, worker_name)
    return job_id


def enqueue_again(
    ctx: JobContext, fetches: list[tuple[uuid.UUID, FetchTrigger]], *, at_front: bool = False
) -> None:
    """Put fetches already set back to ``queued`` on their queues again.

    RQ's traces of each earlier job (registries, intermediate list) are removed
    first, then the time is noted (the reconciler's clock). If Redis is down the
    rows simply stay queued, and the reconciler tries again later.
    """
    done: list[uuid.UUID] = []
    try:
        for fetch_id, trigger in fetches:
            registry.forget_job(ctx.queues, str(fetch_id))
            ctx.queues.enqueue_fetch(fetch_id, trigger.value, at_front=at_front)
            done.append(fetch_id)
    except RedisError:
        log.warning("could not enqueue %d fetches: Redis unavailable", len(fetches) - len(done))
    if done:
        with ctx.db.session() as session:
            mark_enqueued(session, done)
            session.commit()

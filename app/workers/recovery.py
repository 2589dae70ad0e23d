"""Putting a dead worker's job back at once, instead of after RQ's maintenance interval.

RQ notices an abandoned job only when its maintenance task runs (every 10
minutes by default). The supervisor sees a child die the moment it happens,
so it can requeue that child's job right away.
"""

from __future__ import annotations

import logging
import uuid

from rq import Worker

from app.jobs.context import JobContext
from app.storage.fetches import mark_enqueued, requeue_fetch
from app.storage.models import Fetch

log = logging.getLogger(__name__)


def recover_worker_job(ctx: JobContext, worker_name: str) -> str | None:
    """Requeue the job a dead worker was running; returns its id, if any."""
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
        fetch_id = uuid.UUID(job_id)
    except ValueError:
        return None
    with ctx.db.session() as session:
        fetch = session.get(Fetch, fetch_id)
        if fetch is None or not requeue_fetch(session, fetch_id):
            session.commit()
            return None  # already finished (it died after recording), or unknown
        trigger = fetch.trigger
        session.commit()
    ctx.queues.forget_job(job_id)
    ctx.queues.enqueue_fetch(fetch_id, trigger.value, at_front=True)
    with ctx.db.session() as session:
        mark_enqueued(session, fetch_id)
        session.commit()
    log.warning("recovered job %s of dead worker %s", job_id, worker_name)
    return job_id

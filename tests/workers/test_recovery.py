"""A dead worker's job put back at once (app/workers/recovery.py)."""

from __future__ import annotations

from collections.abc import Callable

from redis import Redis
from rq import Worker
from rq.job import Job
from sqlalchemy import update

from app.context import JobContext
from app.storage.db import Database
from app.storage.models import Fetch, FetchState
from app.workers.recovery import recover_worker_job
from tests.feedserver import FeedServer
from tests.refreshes import fetches_by_url, refresh_jobs, schedule


def test_a_dead_workers_batch_puts_each_unfinished_fetch_back_alone(
    job_context_with: Callable[..., JobContext], db: Database, redis: Redis, feed_server: FeedServer
) -> None:
    ctx = job_context_with(refresh_batch_size=5)
    urls = schedule(ctx, db, feed_server, 3)
    (job,) = refresh_jobs(ctx)
    done = fetches_by_url(db)[urls[0]]
    with db.session() as session:
        session.execute(
            update(Fetch).where(Fetch.id == done.id).values(state=FetchState.SUCCEEDED)
        )
        session.commit()
    dead = Worker([ctx.queues.refresh], connection=redis, name="deadhost.1.t0")
    dead.register_birth()
    dead.prepare_execution(job)  # it took the job, then died
    assert recover_worker_job(ctx, dead.name) == job.id
    fetches = fetches_by_url(db)
    revived = [fetches[u] for u in urls[1:]]
    assert all(f.state == FetchState.QUEUED and f.job_id is None for f in revived)
    queued = set(ctx.queues.refresh.get_job_ids())
    assert queued == {str(f.id) for f in revived}
    assert not Job.exists(job.id, connection=redis)

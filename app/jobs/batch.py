"""The refresh job: one RQ job carries many scheduled fetches.

A refresh that finds its feed unchanged costs a few milliseconds; an RQ job
costs about as much again in Redis round trips and bookkeeping (dequeue,
registries, status). The scheduler therefore puts up to REFRESH_BATCH_SIZE
refreshes in one job, which runs them one after the other with the same
semantics as a fetch's own job (``app.jobs.fetch``). It claims all its fetches in one
statement, and writes the outcomes of the unchanged ones (most refreshes) together
at its end.

Each fetch row names the batch job that carries it (``fetches.job_id``), and a
job only runs fetches that still name it, so a fetch handed to a job of its
own (a deferral, a retry, the reconciler) is never run twice. A batch stops
starting fetches once it has run for ``JOB_TIMEOUT - FETCH_DEADLINE - 5`` seconds and
hands the rest to a new batch job: a batch job is no longer than any other job,
and the reconciler's bounds hold for it too. If its process dies, the fetches it
claimed are still pending, and go back to the queue like any dead worker's job.
"""

from __future__ import annotations

import logging
import time
import uuid

from redis.exceptions import RedisError
from rq import Retry

from app.context import JobContext, get_context
from app.jobs.fetch import Unchanged, run_claimed
from app.queue.politeness import HostWait
from app.storage.fetches import claim_fetches, hand_over, requeue_fetch
from app.storage.models import FetchTrigger
from app.storage.outcomes import record_successes

log = logging.getLogger(__name__)

#: Room left in a batch job's timeout for storing the last fetch's result.
STORE_MARGIN = 5.0


def run_fetch_batch(batch_id: str, fetch_ids: list[str]) -> dict[str, object]:
    """RQ entry point: run the refresh fetches ``fetch_ids`` carried by job ``batch_id``."""
    ctx = get_context()
    job = uuid.UUID(batch_id)
    keys = [uuid.UUID(fetch_id) for fetch_id in fetch_ids]
    budget = ctx.settings.job_timeout - ctx.settings.fetch_deadline - STORE_MARGIN
    started = time.monotonic()
    # One statement claims the whole batch; the batch ends well within the
    # reconciler's bound for running fetches (JOB_TIMEOUT + 15 s).
    with ctx.db.session() as session:
        claims = claim_fetches(session, keys, job)
        session.commit()
    unchanged: Unchanged = []
    ran = 0
    try:
        for index, key in enumerate(keys):
            if index and time.monotonic() - started >= budget:
                _continue_later(ctx, job, keys[index:])
                break
            claim = claims.get(key)
            if claim is None:
                continue  # finished meanwhile, or handed to a job of its own
            outcome = run_claimed(ctx, key, claim, unchanged)
            if isinstance(outcome, Retry):
                _run_alone_later(ctx, key, outcome)
            ran += 1
    finally:
        # Unchanged feeds (most refreshes) are written together: one round trip.
        with ctx.db.session() as session:
            record_successes(session, unchanged)
            session.commit()
    return {"batch": len(keys), "ran": ran, "unchanged": len(unchanged)}


def _run_alone_later(ctx: JobContext, key: uuid.UUID, retry: Retry) -> None:
    """A waiting or retried member gets a job of its own, like any other fetch; one
    whose host is over budget waits in the host's list (app.queue.politeness)."""
    with ctx.db.session() as session:
        if not requeue_fetch(session, key, detach=True):
            return
        session.commit()
    seconds = retry.intervals[0] if retry.intervals else 0
    try:
        ctx.queues.enqueue_fetch_in(key, FetchTrigger.REFRESH.value, seconds)
        if isinstance(retry, HostWait):
            # Scheduled first, listed second: a waiter is promoted by taking it out
            # of the scheduled registry, so it must be there before anyone can.
            ctx.budget.park(retry.host, str(key))
    except RedisError:
        # The row says queued with no job: the reconciler enqueues it again.
        log.warning("could not schedule fetch %s: Redis unavailable", key)


def _continue_later(ctx: JobContext, job: uuid.UUID, rest: list[uuid.UUID]) -> None:
    """Hand the members not started yet to a new batch job, at the front of the queue."""
    successor = uuid.uuid4()
    with ctx.db.session() as session:
        moved = hand_over(session, rest, job, successor)
        session.commit()
    if not moved:
        return
    try:
        ctx.queues.enqueue_batches({successor: moved}, at_front=True)
    except RedisError:
        log.warning("could not enqueue %d refreshes: Redis unavailable", len(moved))

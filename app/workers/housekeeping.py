"""Periodic work of the worker dyno's supervisor: refresh scheduling, reconciliation,
retention (app.workers.retention), the hosts' wait lists and the dyno's metrics.

Both are safe to run on every dyno at once. Due feeds are claimed with
``FOR UPDATE SKIP LOCKED`` and get a new ``next_fetch_at`` in the same
transaction, and the one-pending-fetch-per-feed index refuses a second
fetch, so each due feed is enqueued once per period however many dynos run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from app import feed_state
from app.context import JobContext
from app.jobs import websub
from app.jobs.crashes import settle_orphans
from app.observability import dynos, metrics
from app.observability.collectors import dyno_exposition
from app.queue import registry
from app.queue.backpressure import room_in
from app.storage.feeds import claim_due_feeds
from app.storage.fetches import create_refresh_fetches, mark_enqueued, stale_fetches
from app.storage.models import FetchState
from app.workers.recovery import enqueue_again
from app.workers.retention import Pruner, prune_some, take_turn

log = logging.getLogger(__name__)

#: How often the supervisor promotes fetches waiting for a host whose slot freed on
#: its own (an expired lease, the per-minute window): one Redis read when none is due.
SWEEP_EVERY = 1.0


def enqueue_due_refreshes(ctx: JobContext, *, limit: int = 1000) -> int:
    """Create and enqueue refresh fetches for feeds that are due; returns how many."""
    return schedule_due(ctx, limit=limit).created


@dataclass(frozen=True)
class Scheduled:
    """One pass of the scheduler: refreshes enqueued, and whether more feeds are due now
    (the claim took as many as it could)."""

    created: int
    more_due: bool


def schedule_due(ctx: JobContext, *, limit: int = 1000) -> Scheduled:
    """Claim up to ``limit`` due feeds and enqueue their refreshes (:class:`Scheduled`).

    Set-based: one claim, one bulk insert, one bulk update and one Redis round
    trip per batch, so the scheduler keeps up with hundreds of refreshes a second.
    """
    try:
        room = room_in(ctx.queues, ctx.queues.refresh, ctx.settings.queue_max_jobs)
    except RedisError:
        log.warning("scheduler: Redis unavailable; due feeds wait in Postgres")
        return Scheduled(0, more_due=False)
    if room == 0:
        # Backpressure (QUEUE_MAX_JOBS): due feeds keep their next_fetch_at and wait in
        # Postgres; they are claimed, most overdue first, once the queue has drained.
        log.warning("scheduler: refresh queue full (QUEUE_MAX_JOBS); due feeds wait")
        return Scheduled(0, more_due=False)
    limit = min(limit, room * ctx.settings.refresh_batch_size)
    now = datetime.now(UTC)
    with ctx.db.session() as session:
        claim = claim_due_feeds(
            session, now=now, limit=limit, policy=feed_state.Policy.of(ctx.settings)
        )
        more_due = claim.taken >= limit
        due = claim.feeds
        if not due:
            session.commit()  # the stale schedule rows it took are gone
            return Scheduled(0, more_due)
        # Refreshes travel REFRESH_BATCH_SIZE to a job (app.jobs.batch); each row
        # names its job, so the reconciler can tell whether RQ still holds it.
        batches = create_refresh_fetches(
            session, due, now=now, batch_size=ctx.settings.refresh_batch_size
        )
        session.commit()
    created = sum(len(fetch_ids) for fetch_ids in batches.values())
    lags = [(now - due_at).total_seconds() for _, due_at in due]
    for lag in lags:
        metrics.scheduler_lag(lag)
    log.info("scheduler: due=%d enqueued=%d max_lag_s=%.1f", len(due), created, max(lags))
    if batches:
        try:
            ctx.queues.enqueue_batches(batches)
        except RedisError:
            # The rows stay queued; the reconciler enqueues them once Redis is back.
            log.warning("could not enqueue %d refreshes: Redis unavailable", created)
    return Scheduled(created, more_due)


def reconcile(ctx: JobContext) -> int:
    """Re-enqueue fetches whose job was lost (Redis flushed, worker killed); returns how many.

    A queued fetch is checked once it has waited ``reconcile_queued_grace``
    seconds: if RQ no longer holds its job, it is enqueued again. A running
    fetch older than the job timeout (plus a margin) cannot have a live job.
    """
    now = datetime.now(UTC)
    queued_grace = ctx.settings.reconcile_queued_grace
    running_grace = ctx.settings.job_timeout + 15
    with ctx.db.session() as session:
        stale = stale_fetches(
            session,
            queued_before=now - timedelta(seconds=queued_grace),
            running_before=now - timedelta(seconds=running_grace),
        )
        queued = [f for f in stale if f.state == FetchState.QUEUED]
        held = registry.jobs_waiting(ctx.queues, [str(f.rq_job_id) for f in queued])
        waiting = {f.id for f in queued if str(f.rq_job_id) in held}
        # Just a long queue (or a batch still at work): look again later.
        mark_enqueued(session, list(waiting))
        # A fetch still running past the bound lost its process: a crash, counted
        # against FETCH_CRASH_RETRIES like the supervisor's own recovery.
        revived = settle_orphans(
            ctx, session, [f for f in stale if f.id not in waiting], crashed=True
        )
        session.commit()
    for fetch_id, _trigger in revived:
        log.warning("reconciler: fetch %s had no live job; enqueueing it again", fetch_id)
    enqueue_again(ctx, revived)
    return len(revived)


@dataclass
class Housekeeper:
    """Runs the scheduler, the reconciler, retention and WebSub upkeep at their intervals
    from the supervisor loop."""

    ctx: JobContext
    #: Feeds one claim takes (one statement, one bulk insert, one Redis pipeline).
    claim_size: int = 1000
    _next: dict[str, float] = field(default_factory=dict)
    _pruner: Pruner | None = None
    #: A retention pass this dyno started is still going: it needs no new turn.
    _pruning: bool = False

    def __call__(self) -> bool:
        """One pass; True when the scheduler's claim took as many feeds as it could, so
        more are due now and the supervisor should call again at once, not after its tick."""
        now = time.monotonic()
        settings = self.ctx.settings
        full = False
        if now >= self._next.get("schedule", 0.0):
            full = schedule_due(self.ctx, limit=self.claim_size).more_due
            self._next["schedule"] = now + (0 if full else settings.schedule_every)
        if now >= self._next.get("sweep", 0.0):
            self._next["sweep"] = now + SWEEP_EVERY
            self._sweep_waiting_hosts()
        if now >= self._next.get("reconcile", 0.0):
            self._next["reconcile"] = now + settings.reconcile_every
            reconcile(self.ctx)
        if settings.retention_every and now >= self._next.get("retention", 0.0):
            # A pass does a few short transactions; with more to delete it comes back
            # at the next tick rather than holding up the scheduler.
            more = self._prune()
            self._next["retention"] = now + (0 if more else settings.retention_every)
        if now >= self._next.get("websub", 0.0):
            # Subscribe, renew, and poll normally again whatever stopped pushing.
            self._next["websub"] = now + settings.websub_every
            websub.maintain(self.ctx)
        if now >= self._next.get("metrics", 0.0):
            self._next["metrics"] = now + settings.metrics_publish_every
            self._publish_metrics()
        return full

    def _prune(self) -> bool:
        """A tick of retention, when it is this dyno's turn; True when the pass goes on."""
        settings = self.ctx.settings
        if not self._pruning and not take_turn(
            self.ctx.queues.redis,
            f"{settings.queue_prefix}:retention:turn",
            holder=settings.dyno_name("worker"),
            seconds=settings.retention_every,
        ):
            return False
        if self._pruner is None:
            self._pruner = Pruner(self.ctx.db, settings)
        self._pruning = prune_some(self._pruner)
        return self._pruning

    def _sweep_waiting_hosts(self) -> None:
        try:
            promoted = self.ctx.budget.sweep()
        except RedisError:
            log.warning("could not promote waiting fetches: Redis unavailable")
            return
        if promoted:
            log.info("hosts with free slots: %d waiting fetches promoted", len(promoted))

    def _publish_metrics(self) -> None:
        # The web's /metrics cannot reach this dyno: hand it our numbers.
        try:
            dynos.publish(
                self.ctx.queues.redis,
                self.ctx.settings.queue_prefix,
                self.ctx.settings.dyno_name("worker"),
                dyno_exposition(),
            )
        except RedisError:
            log.warning("could not publish this dyno's metrics: Redis unavailable")

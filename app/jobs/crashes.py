"""Fetches whose worker process died under them: run again at the back of the queue, or quarantine.

A document that kills the process reading it (a parser bug, memory the
limits did not foresee, SIGKILL) would otherwise be run again and again, each
time taking down every healthy fetch running beside it. So each death under a
running fetch is counted in Postgres (``fetches.crashes``, the source of truth
for the supervisor's recovery and the reconciler alike); up to
``FETCH_CRASH_RETRIES`` the fetch runs again, behind the work already waiting;
after that it fails with ``worker_crashed`` and its feed backs off like any
failing feed. An admin requeues such feeds from /status.

A refresh batch claims its members together, so every member of a batch whose
process died counts the death once; each then runs in a job of its own, so only
the fetch that kills its process again reaches the limit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app import feed_state
from app.context import JobContext
from app.observability import metrics
from app.storage.fetches import count_crash, finish_fetch, requeue_fetch
from app.storage.models import Fetch, FetchState, FetchTrigger
from app.storage.outcomes import lock_feed_state, record_failure

log = logging.getLogger(__name__)

WORKER_CRASHED = "worker_crashed"


def settle_orphans(
    ctx: JobContext, session: Session, fetches: list[Fetch], *, crashed: bool
) -> list[tuple[uuid.UUID, FetchTrigger]]:
    """Deal with pending fetches whose job is gone; returns those to enqueue again.

    ``crashed``: their process died (not a planned shutdown), so each one that
    was running counts a crash, and fails once it has more than the setting
    allows. The others go back to ``queued`` out of any batch. The caller commits.
    """
    revived: list[tuple[uuid.UUID, FetchTrigger]] = []
    for fetch in fetches:
        if crashed and fetch.state == FetchState.RUNNING:
            crashes = count_crash(session, fetch.id)
            if crashes is not None and crashes > ctx.settings.fetch_crash_retries:
                quarantine(ctx, session, fetch, crashes)
                metrics.worker_crash(quarantined=True)
                continue
            if crashes is not None:
                metrics.worker_crash(quarantined=False)
                log.warning("fetch %s: its worker process died (%d times)", fetch.id, crashes)
        if requeue_fetch(session, fetch.id, detach=True):
            revived.append((fetch.id, fetch.trigger))
    return revived


def quarantine(ctx: JobContext, session: Session, fetch: Fetch, crashes: int) -> None:
    """Fail the fetch with ``worker_crashed``; its feed backs off like any failing feed."""
    now = datetime.now(UTC)
    message = (
        f"The worker process died while fetching this feed ({crashes} times), so it is not "
        "tried again until its next refresh; an admin can requeue it from the status page."
    )
    state, errors = lock_feed_state(session, fetch.feed_id)
    change = feed_state.after_failure(
        feed_state.Policy.of(ctx.settings), state, errors, now=now, http_status=None,
        retry_after=None,
    )
    record_failure(session, fetch.feed_id, change, now=now, code=WORKER_CRASHED, message=message)
    finish_fetch(
        session, fetch.id, state=FetchState.FAILED, error_code=WORKER_CRASHED,
        error_message=message,
    )
    log.error("fetch %s quarantined: its worker process died %d times", fetch.id, crashes)

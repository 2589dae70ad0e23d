"""The fetch job: download a feed, store its items, record the outcome.

The job takes a fetch id, never objects: everything it needs is re-read from
Postgres, so a retried or re-enqueued job sees the current truth. Network
work happens outside any database transaction.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from rq import Retry, get_current_job

from app import feed_state
from app.context import JobContext, get_context
from app.jobs import icons, websub
from app.observability import metrics
from app.pipeline import FeedResult, FetchError, Validators, fetch_feed
from app.queue.politeness import NO_LIMIT, HostWait, Lease
from app.queue.shutdown import ShutdownInterrupt
from app.storage.fetches import Claim, claim_fetch, finish_fetch, requeue_fetch, unclaim_fetch
from app.storage.items import StoredItems, store_items
from app.storage.models import FetchState
from app.storage.outcomes import Success, lock_feed_state, record_failure, record_success
from app.storage.websub import note_hub

log = logging.getLogger(__name__)

#: Pauses before the 1st, 2nd and later retries of a transient failure.
RETRY_BACKOFF = (5, 30, 120)
#: A Retry-After longer than this is left to the feed's schedule.
MAX_RETRY_WAIT = 600


@dataclass(frozen=True)
class Target(Claim):
    """What the job read from Postgres before going to the network."""

    fetch_id: uuid.UUID = field(kw_only=True)

    @property
    def validators(self) -> Validators:
        return Validators(
            etag=self.etag, last_modified=self.last_modified, content_hash=self.content_hash
        )


def run_fetch(fetch_id: str | None = None) -> dict[str, object] | Retry:
    """RQ entry point: fetch the feed of fetch ``fetch_id`` and store the result.

    The fetch id is the job's id, so the job carries no argument (``fetch_id``
    given: a job enqueued before that, or a direct call).

    Returns a ``Retry`` (RQ reschedules the job) when a transient error deserves
    another attempt, and a ``HostWait`` when the feed's host is over its politeness
    budget: the job then waits in the host's list until a slot frees
    (app.queue.politeness).
    """
    if fetch_id is None:
        job = get_current_job()
        assert job is not None, "run_fetch() without an id runs only as an RQ job"
        fetch_id = job.id
    return run_one(get_context(), uuid.UUID(fetch_id))


def run_one(
    ctx: JobContext, key: uuid.UUID, job_id: uuid.UUID | None = None
) -> dict[str, object] | Retry:
    """Run fetch ``key`` in this job (``job_id``: the batch job carrying it, if any)."""
    with ctx.db.session() as session:
        claim = claim_fetch(session, key, job_id)
        session.commit()
    if claim is None:
        log.info("fetch skipped: already finished", extra={"fetch_id": str(key)})
        return {"skipped": True}
    return run_claimed(ctx, key, claim)


#: Outcomes of unchanged feeds that a batch job writes together (see app.jobs.batch).
Unchanged = list[tuple[uuid.UUID, Success]]


def run_claimed(
    ctx: JobContext, key: uuid.UUID, claim: Claim, unchanged: Unchanged | None = None
) -> dict[str, object] | Retry:
    """Run fetch ``key``, already claimed by this job.

    With ``unchanged``, the outcome of a feed found unchanged is appended there for the
    caller to write, instead of being written now.
    """
    fetch_id = str(key)
    started = time.monotonic()
    host = (urlsplit(claim.url).hostname or "").lower()
    try:
        # The fetch id names the lease: a slot handed to this fetch while it waited is its own.
        lease = ctx.budget.acquire(host, fetch_id)
    except BaseException:
        _unclaim(ctx, key)
        raise
    if not isinstance(lease, Lease):
        _unclaim(ctx, key)
        log.info(
            "fetch waiting: host over budget",
            extra={"fetch_id": fetch_id, "host": host, "wait_s": lease},
        )
        return HostWait(host, lease)
    target = Target(**vars(claim), fetch_id=key)  # shallow: claim.icon stays a record
    try:
        metrics.job_started()
        try:
            return _fetch_and_record(ctx, target, started, unchanged)
        except BaseException as exc:
            # Interrupted (shutdown) or unexpected error, while fetching or storing:
            # leave the fetch pending if the job will run again, else fail it visibly.
            interrupted = isinstance(exc, ShutdownInterrupt)
            _record_crash(ctx, target, interrupted=interrupted)
            outcome = "interrupted" if interrupted else "crashed"
            metrics.job_finished(outcome, time.monotonic() - started)
            raise
    finally:
        ctx.budget.release(lease)


def _unclaim(ctx: JobContext, key: uuid.UUID) -> None:
    with ctx.db.session() as session:
        unclaim_fetch(session, key)
        session.commit()


def _fetch_and_record(
    ctx: JobContext, target: Target, started: float, unchanged: Unchanged | None
) -> dict[str, object] | Retry:
    fetch_id = str(target.fetch_id)
    fetching = time.monotonic()
    try:
        result = fetch_feed(target.url, ctx.limits, target.validators)
    except FetchError as err:
        metrics.fetch_done(time.monotonic() - fetching, err.http_status)
        outcome, retry_in = _record_error(ctx, target, err)
        log.info(
            "fetch finished",
            extra={
                "fetch_id": fetch_id,
                "feed_id": target.feed_id,
                "outcome": outcome,
                "code": err.code,
                "http_status": err.http_status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        metrics.job_finished(outcome, time.monotonic() - started, err.code)
        if outcome == "retry":
            return Retry(max=NO_LIMIT, interval=retry_in)
        return {"state": "failed", "error_code": err.code}
    metrics.fetch_done(
        time.monotonic() - fetching,
        result.status,
        not_modified=result.not_modified,
        size=result.bytes_downloaded,
    )
    counts = _record_success(ctx, target, result, unchanged)
    log.info(
        "fetch finished",
        extra={
            "fetch_id": fetch_id,
            "feed_id": target.feed_id,
            "outcome": "succeeded",
            "http_status": result.status,
            "not_modified": result.not_modified,
            "items_new": counts[0],
            "items_updated": counts[1],
            "bytes": result.bytes_downloaded,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
    metrics.job_finished("succeeded", time.monotonic() - started, new=counts[0], updated=counts[1])
    return {"state": "succeeded", "items_new": counts[0], "items_updated": counts[1]}


def _record_success(
    ctx: JobContext, target: Target, result: FeedResult, unchanged: Unchanged | None
) -> tuple[int, int]:
    parsed = result.feed
    if parsed is None:
        # Not modified (304, or the same body): only the outcome to write.
        success = _success(ctx, target, result, StoredItems(0, 0, []))
        if unchanged is not None:
            unchanged.append((target.fetch_id, success))
            return 0, 0
        with ctx.db.session() as session:
            record_success(session, target.fetch_id, success)
            session.commit()
        return 0, 0
    with ctx.db.session() as session:
        stored = store_items(session, target.feed_id, parsed.items)
        record_success(session, target.fetch_id, _success(ctx, target, result, stored))
        # The feed's hub as the claim read it: most fetches find the same one, and then
        # the UPDATE would match no row (0.8 ms of CPU per fetch, a tenth of a job's).
        new_hub = (result.hub_url, result.topic_url) != (
            target.hub_url,
            target.topic_url,
        ) and note_hub(session, target.feed_id, result.hub_url, result.topic_url)
        session.commit()
    if new_hub and result.hub_url:
        websub.subscribe_now(ctx, target.feed_id)  # push from now on, not at the next tick
    if icons.wanted(ctx, target.icon, parsed):
        icons.request_icon(ctx, target.feed_id, parsed)  # queued: searched by a job of its own
    return stored.new, stored.updated


def _success(
    ctx: JobContext,
    target: Target,
    result: FeedResult,
    stored: StoredItems,
) -> Success:
    now = datetime.now(UTC)
    parsed = result.feed
    schedule = feed_state.after_success(
        feed_state.Policy.of(ctx.settings),
        now=now,
        previous_interval=target.refresh_interval,
        learned=bool(stored.new or stored.updated),
        ttl_seconds=parsed.ttl_seconds if parsed else None,
        cache_max_age=result.cache_max_age,
        recent_item_times=stored.recent_published,
    )
    return Success(
        now=now,
        next_fetch_at=schedule.next_fetch_at,
        interval=schedule.interval,
        http_status=result.status,
        not_modified=result.not_modified,
        items_new=stored.new,
        items_updated=stored.updated,
        current_url=result.permanent_url,
        title=parsed.title if parsed else None,
        site_url=parsed.site_url if parsed else None,
        etag=result.etag,
        last_modified=result.last_modified,
        content_hash=result.content_hash,
        warning=parsed.warning if parsed else None,
        discovered_url=result.discovered_url,
    )


def retry_delay(err: FetchError, attempt: int, retries: int) -> int | None:
    """Seconds before the next attempt after a failed one, or None to fail now.

    Transient errors are retried ``retries`` times with growing pauses; a
    server's Retry-After is honoured, unless it asks for longer than a retry
    is worth (then the feed's own schedule waits for it instead).
    """
    if not err.transient or attempt > retries:
        return None
    delay = RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF)) - 1]
    if err.retry_after:
        if err.retry_after > MAX_RETRY_WAIT:
            return None
        delay = max(delay, math.ceil(err.retry_after))
    return delay


def _record_error(ctx: JobContext, target: Target, err: FetchError) -> tuple[str, int]:
    """Store a pipeline error; returns ("retry", seconds) or ("failed", 0)."""
    now = datetime.now(UTC)
    retry_in = retry_delay(err, target.attempt, ctx.settings.fetch_retries)
    with ctx.db.session() as session:
        if retry_in is not None:
            requeue_fetch(session, target.fetch_id)
            session.commit()
            return "retry", retry_in
        state, errors = lock_feed_state(session, target.feed_id)
        change = feed_state.after_failure(
            feed_state.Policy.of(ctx.settings),
            state,
            errors,
            now=now,
            http_status=err.http_status,
            retry_after=err.retry_after,
        )
        record_failure(session, target.feed_id, change, now=now, code=err.code, message=err.message)
        finish_fetch(
            session,
            target.fetch_id,
            state=FetchState.FAILED,
            http_status=err.http_status,
            error_code=err.code,
            error_message=err.message,
        )
        session.commit()
    return "failed", 0


def _record_crash(ctx: JobContext, target: Target, *, interrupted: bool) -> None:
    job = get_current_job()
    try:
        with ctx.db.session() as session:
            if interrupted or (job is not None and job.should_retry):
                requeue_fetch(session, target.fetch_id)
            else:
                finish_fetch(
                    session,
                    target.fetch_id,
                    state=FetchState.FAILED,
                    error_code="internal_error",
                    error_message="The fetch stopped unexpectedly; it has been logged.",
                )
            session.commit()
    except Exception:
        # The database may be what failed; the reconciler will find the
        # fetch still pending and run it again.
        log.exception("fetch=%s could not record the crash", target.fetch_id)

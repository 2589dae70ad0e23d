"""The fetch job: download a feed, store its items, record the outcome.

The job takes a fetch id, never objects: everything it needs is re-read from
Postgres, so a retried or re-enqueued job sees the current truth. Network
work happens outside any database transaction.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rq import get_current_job
from sqlalchemy.orm import Session

from app import schedule
from app.jobs.context import JobContext, get_context
from app.jobs.interrupt import ShutdownInterrupt
from app.pipeline import FeedResult, FetchError, Validators, fetch_feed
from app.storage.feeds import recent_item_times, record_failure, record_success
from app.storage.fetches import finish_fetch, requeue_fetch, start_fetch
from app.storage.items import upsert_items
from app.storage.models import Feed, FeedState, FetchState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """What the job read from Postgres before going to the network."""

    fetch_id: uuid.UUID
    feed_id: int
    url: str
    validators: Validators


def run_fetch(fetch_id: str) -> dict[str, object]:
    """RQ entry point: fetch the feed of fetch ``fetch_id`` and store the result."""
    ctx = get_context()
    started = time.monotonic()
    target = _start(ctx, uuid.UUID(fetch_id))
    if target is None:
        log.info("fetch=%s skipped: already finished", fetch_id)
        return {"skipped": True}
    try:
        result = fetch_feed(target.url, ctx.limits, target.validators)
    except FetchError as err:
        outcome = _record_error(ctx, target, err)
        log.info(
            "fetch=%s feed=%s outcome=%s code=%s duration_ms=%d",
            fetch_id,
            target.feed_id,
            outcome,
            err.code,
            (time.monotonic() - started) * 1000,
        )
        if outcome == "retry":
            raise  # RQ's Retry re-enqueues the job after its interval
        return {"state": "failed", "error_code": err.code}
    except BaseException as exc:
        # Interrupted (shutdown) or unexpected error: leave the fetch pending
        # if the job will run again, else fail it visibly.
        _record_crash(ctx, target, interrupted=isinstance(exc, ShutdownInterrupt))
        raise
    counts = _record_success(ctx, target, result)
    log.info(
        "fetch=%s feed=%s outcome=succeeded status=%s new=%d updated=%d duration_ms=%d",
        fetch_id,
        target.feed_id,
        result.status,
        counts[0],
        counts[1],
        (time.monotonic() - started) * 1000,
    )
    return {"state": "succeeded", "items_new": counts[0], "items_updated": counts[1]}


def _start(ctx: JobContext, fetch_id: uuid.UUID) -> Target | None:
    with ctx.db.session() as session:
        fetch = start_fetch(session, fetch_id)
        if fetch is None:
            session.commit()
            return None
        feed = session.get(Feed, fetch.feed_id)
        assert feed is not None
        target = Target(
            fetch_id=fetch.id,
            feed_id=feed.id,
            url=feed.current_url,
            validators=Validators(
                etag=feed.etag, last_modified=feed.last_modified, content_hash=feed.content_hash
            ),
        )
        session.commit()
        return target


def _record_success(ctx: JobContext, target: Target, result: FeedResult) -> tuple[int, int]:
    settings = ctx.settings
    now = datetime.now(UTC)
    with ctx.db.session() as session:
        feed = _lock_feed(session, target.feed_id)
        new = updated = 0
        parsed = result.feed
        if parsed is not None:
            counts = upsert_items(session, feed.id, parsed.items)
            new, updated = counts.new, counts.updated
        interval = schedule.refresh_interval(
            default=settings.refresh_default,
            minimum=settings.refresh_min,
            maximum=settings.refresh_max,
            ttl_seconds=parsed.ttl_seconds if parsed else None,
            cache_max_age=result.cache_max_age,
            recent_item_times=recent_item_times(session, feed.id),
        )
        record_success(
            session,
            feed,
            now=now,
            next_fetch_at=schedule.with_jitter(interval, now),
            interval=interval,
            current_url=result.permanent_url,
            title=parsed.title if parsed else None,
            site_url=parsed.site_url if parsed else None,
            etag=result.etag,
            last_modified=result.last_modified,
            content_hash=result.content_hash,
            items_changed=bool(new or updated),
        )
        finish_fetch(
            session,
            target.fetch_id,
            state=FetchState.SUCCEEDED,
            http_status=result.status,
            items_new=new,
            items_updated=updated,
            not_modified=result.not_modified,
            warning=parsed.warning if parsed else None,
            discovered_url=result.discovered_url,
        )
        session.commit()
    return new, updated


def _record_error(ctx: JobContext, target: Target, err: FetchError) -> str:
    """Store a pipeline error; returns "retry" when RQ will run the job again."""
    job = get_current_job()
    will_retry = err.transient and job is not None and job.should_retry
    settings = ctx.settings
    now = datetime.now(UTC)
    with ctx.db.session() as session:
        if will_retry:
            requeue_fetch(session, target.fetch_id)
            session.commit()
            return "retry"
        feed = _lock_feed(session, target.feed_id)
        errors = feed.error_count + 1
        delay = schedule.error_backoff(
            errors, minimum=settings.refresh_min, maximum=settings.refresh_max
        )
        if err.retry_after:
            delay = max(delay, int(err.retry_after))
        if err.http_status == 410:
            state = FeedState.GONE  # the publisher says it is gone for good
        elif errors >= settings.feed_max_errors:
            state = FeedState.PAUSED  # stop hammering; a person can resume it
        else:
            state = FeedState.ERROR
        record_failure(
            session,
            feed,
            now=now,
            code=err.code,
            message=err.message,
            next_fetch_at=now + timedelta(seconds=delay) if state == FeedState.ERROR else None,
            state=state,
        )
        finish_fetch(
            session,
            target.fetch_id,
            state=FetchState.FAILED,
            http_status=err.http_status,
            error_code=err.code,
            error_message=err.message,
        )
        session.commit()
    return "failed"


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


def _lock_feed(session: Session, feed_id: int) -> Feed:
    # Serialise writers of one feed (a refresh racing a manual fetch).
    feed = session.get(Feed, feed_id, with_for_update=True)
    assert feed is not None
    return feed

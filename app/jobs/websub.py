"""WebSub jobs: send (un)subscription requests to hubs, store what hubs push.

``run_hub_request`` POSTs a subscription's pending request to its hub through the
fetch guard (app.pipeline.websub.hub_request); the hub then verifies it by calling
our callback (app.web.websub), which records the lease. ``run_delivery`` reads a
body the web stored and runs it through the fetch's own parse and store path:
``read_bounded`` (the parser process, caps, sanitiser) and ``store_items``.
``maintain`` is housekeeping's part: subscribe, renew, fall back to polling.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.context import JobContext, get_context
from app.pipeline import FetchError, read_bounded
from app.pipeline.websub import hub_request
from app.queue import registry
from app.queue.websub import delivery_job_id, enqueue_deliveries, enqueue_hub_requests
from app.storage import websub as rows
from app.storage import websub_claims as claims
from app.storage import websub_deliveries as deliveries
from app.storage.items import store_items

log = logging.getLogger(__name__)

#: A delivery still stored this long after it arrived lost its job: enqueue it again.
DELIVERY_GRACE = timedelta(minutes=2)


def callback_url(public_url: str, token: str) -> str:
    """The callback a hub calls for the subscription of ``token``."""
    return f"{public_url.rstrip('/')}/websub/{token}"


def run_hub_request(subscription_id: int) -> dict[str, object]:
    """RQ entry point: send the subscription's pending request to its hub."""
    ctx = get_context()
    with ctx.db.session() as session:
        request = rows.pending_request(session, subscription_id)
    if request is None:
        return {"skipped": True}
    if not ctx.settings.public_url:
        with ctx.db.session() as session:
            rows.request_failed(session, subscription_id, "PUBLIC_URL is not set")
            session.commit()
        return {"state": "failed", "error_code": "no_public_url"}
    form = {
        "hub.mode": request.mode,
        "hub.topic": request.topic_url,
        "hub.callback": callback_url(ctx.settings.public_url, request.token),
    }
    if request.mode == "subscribe":
        form["hub.secret"] = request.secret
        form["hub.lease_seconds"] = str(ctx.settings.websub_lease_seconds)
    try:
        status = hub_request(request.hub_url, form, ctx.limits)
    except FetchError as err:
        log.info(
            "websub request refused",
            extra={"subscription_id": subscription_id, "mode": request.mode, "code": err.code},
        )
        with ctx.db.session() as session:
            rows.request_failed(session, subscription_id, f"{err.code}: {err.message}")
            session.commit()
        return {"state": "failed", "error_code": err.code}
    # 202 Accepted: the hub verifies the intent by calling back (the row waits for it).
    return {"state": "sent", "http_status": status}


def run_delivery(delivery_id: int) -> dict[str, object]:
    """RQ entry point: parse a pushed body and store its items, as a fetch would."""
    ctx = get_context()
    with ctx.db.session() as session:
        delivery = deliveries.load_delivery(session, delivery_id)
    if delivery is None:
        return {"skipped": True}
    try:
        parsed = read_bounded(
            delivery.body, delivery.headers, delivery.topic_url, ctx.limits, discover=False
        )
    except FetchError as err:
        with ctx.db.session() as session:
            deliveries.finish_delivery(
                session, delivery, items_changed=False, error=f"{err.code}: {err.message}"
            )
            session.commit()
        return {"state": "failed", "error_code": err.code}
    with ctx.db.session() as session:
        stored = store_items(session, delivery.feed_id, parsed.items)
        if not deliveries.finish_delivery(
            session, delivery, items_changed=bool(stored.new or stored.updated)
        ):
            session.rollback()  # another job stored it first
            return {"skipped": True}
        session.commit()
    return {"state": "succeeded", "items_new": stored.new, "items_updated": stored.updated}


def subscribe_now(ctx: JobContext, feed_id: int) -> None:
    """A fetch found a new hub on the feed: ask it now rather than at the next tick."""
    if not ctx.settings.public_url:
        return
    now = datetime.now(UTC)
    try:
        with ctx.db.session() as session:
            claims.follow_moved_hubs(session)
            claims.create_missing(session, now, feed_ids=[feed_id])
            ids = claims.claim_subscribes(session, now, feed_ids=[feed_id])
            session.commit()
    except SQLAlchemyError:
        # The fetch itself is recorded; housekeeping's next tick subscribes instead.
        log.warning("websub: could not subscribe feed %s now", feed_id, exc_info=True)
        return
    _enqueue(ctx, ids)


def maintain(ctx: JobContext) -> dict[str, int]:
    """Housekeeping: lapse what stopped pushing (its feeds polled at once), subscribe,
    renew, unsubscribe, slow down polling of pushed feeds, re-enqueue lost deliveries."""
    now = datetime.now(UTC)
    settings = ctx.settings
    with ctx.db.session() as session:
        lapsed = claims.lapse(session, now, silent_seconds=settings.websub_silent_seconds)
        ids: list[int] = []
        if settings.public_url:
            claims.follow_moved_hubs(session)
            claims.create_missing(session, now)
            ids = claims.claim_subscribes(session, now)
        ids += claims.claim_unsubscribes(session, now)
        slowed = claims.slow_polling(session, now, poll_seconds=settings.websub_poll_seconds)
        stale = deliveries.stale_deliveries(session, now - DELIVERY_GRACE)
        session.commit()
    _enqueue(ctx, ids)
    if stale:
        try:
            # Only those RQ no longer holds: a long queue is no reason to enqueue twice.
            held = registry.jobs_waiting(ctx.queues, [delivery_job_id(d) for d in stale])
            stale = [d for d in stale if delivery_job_id(d) not in held]
            enqueue_deliveries(ctx.queues, stale)
        except RedisError:
            log.warning("could not enqueue %d websub deliveries: Redis unavailable", len(stale))
    if lapsed:
        log.info("websub: %d subscriptions stopped pushing; polling again", len(lapsed))
    return {"lapsed": len(lapsed), "requests": len(ids), "slowed": slowed, "stale": len(stale)}


def _enqueue(ctx: JobContext, ids: list[int]) -> None:
    if not ids:
        return
    try:
        enqueue_hub_requests(ctx.queues, ids)
    except RedisError:
        # The rows wait with a pending request; lapse() gives up on them after
        # VERIFY_TIMEOUT and they are asked again.
        log.warning("could not enqueue %d websub requests: Redis unavailable", len(ids))

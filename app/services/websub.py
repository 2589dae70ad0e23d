"""A hub calling our WebSub callback: verification of intent, and content distribution.

- Verification (GET): answered with ``hub.challenge`` only for the request we are
  waiting for on that callback (same token, topic and mode); anything else is 404,
  as the specification asks of a subscriber that did not ask. A denial is recorded.
- Distribution (POST): the body is checked against ``X-Hub-Signature`` with the
  subscription's secret. A missing or wrong signature is ignored: answered 202
  like a good one, so the answer tells a forger nothing (the specification lets
  subscribers acknowledge such a request and drop it), and nothing is stored. A good
  one is stored for a worker, never parsed here, within a per-subscription rate.
  A callback whose subscription is gone answers 410, which tells the hub to stop; with
  the submissions queue full (QUEUE_MAX_JOBS) the answer is 503 and the hub retries.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from app.config import Settings
from app.pipeline.websub import signature_valid
from app.queue.backpressure import room_in
from app.queue.queues import Queues
from app.queue.websub import enqueue_deliveries
from app.storage import websub as rows
from app.storage import websub_deliveries as deliveries

log = logging.getLogger(__name__)

#: What a callback token looks like (app.storage.websub.new_token; docs/openapi.yaml).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Longest hub.challenge echoed (hubs send a few dozen characters).
MAX_CHALLENGE = 1024
#: Longest lease recorded, whatever a hub grants: a year.
MAX_LEASE = 365 * 24 * 3600


@dataclass(frozen=True)
class Answer:
    """What the callback answers: status and plain-text body."""

    status: int
    text: str = ""


NOT_ASKED = Answer(404, "No such subscription request.")


def _lease(value: str | None, asked: int) -> int:
    """The lease the hub granted (its hub.lease_seconds), else what we asked for."""
    try:
        granted = int((value or "").strip())
    except ValueError:
        return asked
    return min(granted, MAX_LEASE) if granted > 0 else asked


def verify_intent(
    session: Session, settings: Settings, token: str, params: Mapping[str, str], now: datetime
) -> Answer:
    """Answer a hub's GET on the callback of ``token``; commits what it records."""
    sub = rows.by_token(session, token)
    mode = params.get("hub.mode", "")
    topic = params.get("hub.topic", "")
    if sub is None or topic != sub.topic_url:
        return NOT_ASKED
    if mode == "denied":
        rows.denied(session, sub, params.get("hub.reason"), now)
        session.commit()
        log.info("websub: hub denied the subscription", extra={"feed_id": sub.feed_id})
        return Answer(200, "")
    challenge = params.get("hub.challenge", "")
    if mode not in ("subscribe", "unsubscribe") or sub.pending != mode:
        return NOT_ASKED
    if not challenge or len(challenge) > MAX_CHALLENGE:
        return NOT_ASKED
    lease = _lease(params.get("hub.lease_seconds"), settings.websub_lease_seconds)
    rows.verified(session, sub, mode, lease if mode == "subscribe" else None, now)
    session.commit()
    log.info("websub: %s verified", mode, extra={"feed_id": sub.feed_id, "lease_s": lease})
    return Answer(200, challenge)


class Outcome(enum.StrEnum):
    """What became of a POST to a callback."""

    STORED = "stored"  # a worker stores its items
    NOT_OURS = "not_ours"  # not the shape of a token we give out
    IGNORED = "ignored"  # no valid signature: dropped, answered as if stored
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"  # the submissions queue is full (QUEUE_MAX_JOBS): the hub retries later
    GONE = "gone"  # no such subscription (any more)


def accept_delivery(
    session: Session,
    queues: Queues,
    settings: Settings,
    token: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> Outcome:
    """Check and store a body a hub POSTed to the callback of ``token``; commits."""
    if not TOKEN_SHAPE.fullmatch(token):
        return Outcome.NOT_OURS
    sub = rows.by_token(session, token)
    if sub is None or sub.state == "unsubscribed":
        return Outcome.GONE
    if not signature_valid(sub.secret, body, headers.get("X-Hub-Signature")):
        log.warning("websub: delivery without a valid signature", extra={"feed_id": sub.feed_id})
        return Outcome.IGNORED
    try:
        # Deliveries are held to QUEUE_MAX_JOBS like submissions: Redis (25 MB on mini)
        # holds their jobs; their bodies are in Postgres.
        if room_in(queues, queues.submissions, settings.queue_max_jobs) == 0:
            return Outcome.BUSY
    except RedisError:
        pass  # stored all the same: housekeeping enqueues it once Redis is back
    if not deliveries.charge_delivery(session, sub.id, now, settings.websub_deliveries_per_minute):
        session.commit()
        return Outcome.RATE_LIMITED
    delivery_id = deliveries.add_delivery(
        session,
        sub.id,
        body,
        content_type=headers.get("Content-Type"),
        link=headers.get("Link"),
        now=now,
    )
    session.commit()
    try:
        enqueue_deliveries(queues, [delivery_id])
    except RedisError:
        # Stored: housekeeping enqueues deliveries that wait too long (app.jobs.websub).
        log.warning("websub: delivery %s stored, Redis unavailable to enqueue it", delivery_id)
    return Outcome.STORED

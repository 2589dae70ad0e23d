"""WebSub rows: feeds' hubs and our subscriptions at hubs (app.storage.websub_claims
says which to ask, renew or drop; app.storage.websub_deliveries keeps pushed bodies).

A subscription's ``state`` says whether the hub pushes (``active``) or not
(``requested``: asked, not verified yet; ``expired``, ``silent``, ``failed``,
``denied``, ``unsubscribed``); ``pending`` is the request the hub may verify.
Callers commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.storage.models import Feed, WebSubSubscription

#: States in which the hub pushes, or may soon: polling is slowed only for ``active``.
PUSHING = "active"
#: States that ask for a new subscription (after a pause, see ``retry_after``).
RESUBSCRIBE = ("expired", "failed", "denied")
#: States whose lease is still running (a silent hub's lease is renewed like any other).
LEASED = (PUSHING, "silent")
#: How long a hub may take to verify a request before it counts as failed.
VERIFY_TIMEOUT = timedelta(minutes=10)
#: Longest renewal margin: an active lease is renewed this long before it ends, or at
#: half its length when that is shorter.
RENEW_MARGIN = timedelta(days=1)
#: Pause before asking a hub again after a failure: doubles per failure, up to a day.
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(days=1)


def new_token() -> str:
    """An unguessable callback token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def new_secret() -> str:
    """A per-subscription HMAC secret (256 bits)."""
    return secrets.token_hex(32)


def note_hub(session: Session, feed_id: int, hub_url: str | None, topic_url: str | None) -> bool:
    """Store the hub and topic a fetch found on the feed; True when they changed."""
    row = session.execute(
        update(Feed)
        .where(
            Feed.id == feed_id,
            or_(Feed.hub_url.is_distinct_from(hub_url), Feed.topic_url.is_distinct_from(topic_url)),
        )
        .values(hub_url=hub_url, topic_url=topic_url if hub_url else None)
        .returning(Feed.id)
        .execution_options(synchronize_session=False)
    ).first()
    return row is not None


def by_token(session: Session, token: str) -> WebSubSubscription | None:
    """The subscription whose callback token is ``token``, or None."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(WebSubSubscription).where(WebSubSubscription.token == token))


def of_feed(session: Session, feed_id: int) -> WebSubSubscription | None:
    """The feed's subscription, or None."""
    return session.scalar(select(WebSubSubscription).where(WebSubSubscription.feed_id == feed_id))


@dataclass(frozen=True)
class HubRequest:
    """What a job sends to a hub for one subscription."""

    subscription_id: int
    mode: str
    hub_url: str
    topic_url: str
    token: str
    secret: str


def pending_request(session: Session, subscription_id: int) -> HubRequest | None:
    """The request waiting to be sent for the subscription, or None."""
    sub = session.get(WebSubSubscription, subscription_id)
    if sub is None or sub.pending is None:
        return None
    return HubRequest(sub.id, sub.pending, sub.hub_url, sub.topic_url, sub.token, sub.secret)


def request_failed(session: Session, subscription_id: int, error: str) -> None:
    """The hub refused or could not be reached: count a failure, stop waiting.

    An active lease keeps pushing until it ends; a new subscription becomes ``failed``.
    """
    sub = WebSubSubscription
    session.execute(
        update(sub)
        .where(sub.id == subscription_id)
        .values(
            pending=None,
            failures=sub.failures + 1,
            last_error=error[:1000],
            state=func.coalesce(func.nullif(sub.state, "requested"), "failed"),
        )
        .execution_options(synchronize_session=False)
    )


def verified(
    session: Session, sub: WebSubSubscription, mode: str, lease_seconds: int | None, now: datetime
) -> None:
    """The hub verified our pending ``mode``: record the lease, or the unsubscription."""
    sub.pending = None
    sub.verified_at = now
    if mode == "subscribe":
        sub.state = PUSHING
        sub.lease_seconds = lease_seconds
        sub.expires_at = now + timedelta(seconds=lease_seconds) if lease_seconds else None
        sub.failures = 0
        sub.last_error = None
    else:
        sub.state = "unsubscribed"
        sub.expires_at = None


def denied(session: Session, sub: WebSubSubscription, reason: str | None, now: datetime) -> None:
    """The hub refused the subscription (or ended it): the feed is polled at its normal rate."""
    sub.pending = None
    sub.state = "denied"
    sub.failures = sub.failures + 1
    sub.last_error = f"denied by the hub: {reason}"[:1000] if reason else "denied by the hub"
    poll_now(session, [sub.feed_id], now)


def poll_now(session: Session, feed_ids: Sequence[int], now: datetime) -> None:
    """Push stopped for these feeds: refresh them now, then at their normal rate."""
    if feed_ids:
        session.execute(
            update(Feed)
            .where(Feed.id.in_(list(feed_ids)), Feed.next_fetch_at > now)
            .values(next_fetch_at=now)
            .execution_options(synchronize_session=False)
        )

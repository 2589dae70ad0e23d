"""WebSub rows: feeds' hubs, our subscriptions at hubs, and pushed bodies waiting for a worker.

A subscription's ``state`` says whether the hub pushes (``active``) or not
(``requested``: asked, not verified yet; ``expired``, ``silent``, ``failed``,
``denied``, ``unsubscribed``); ``pending`` is the request the hub may verify.
Claims set ``pending`` in the statement that selects the rows (``FOR UPDATE SKIP
LOCKED``), so housekeeping on several dynos sends each request once. Callers commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.storage.models import Feed, WebSubDelivery, WebSubSubscription
from app.storage.subscriptions import followed_by_anyone

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


def _retry_due(now: datetime) -> object:
    """SQL: no failure since the last success, or the pause after the last one has passed."""
    pause = func.least(
        func.make_interval(0, 0, 0, 0, 0, 0, RETRY_BASE.total_seconds())
        * func.power(2, func.least(WebSubSubscription.failures, 16)),
        func.make_interval(0, 0, 0, 0, 0, 0, RETRY_MAX.total_seconds()),
    )
    return or_(
        WebSubSubscription.failures == 0,
        WebSubSubscription.requested_at.is_(None),
        WebSubSubscription.requested_at + pause <= now,
    )


def create_missing(
    session: Session, now: datetime, *, feed_ids: Sequence[int] | None = None, limit: int = 100
) -> int:
    """Add a subscription (asking to subscribe) for followed feeds that name a hub and have
    none; how many. Each gets its own token and secret."""
    stmt = (
        select(Feed.id, Feed.hub_url, Feed.topic_url)
        .where(
            Feed.hub_url.is_not(None),
            followed_by_anyone(),
            ~select(WebSubSubscription.id).where(WebSubSubscription.feed_id == Feed.id).exists(),
        )
        .limit(limit)
    )
    if feed_ids is not None:
        stmt = stmt.where(Feed.id.in_(list(feed_ids)))
    rows = session.execute(stmt).all()
    if not rows:
        return 0
    session.execute(
        pg_insert(WebSubSubscription)
        .values(
            [
                {
                    "feed_id": feed_id,
                    "hub_url": hub_url,
                    "topic_url": topic_url or "",
                    "token": new_token(),
                    "secret": new_secret(),
                    "state": "requested",
                    "pending": None,
                }
                for feed_id, hub_url, topic_url in rows
            ]
        )
        .on_conflict_do_nothing(index_elements=[WebSubSubscription.feed_id])
    )
    return len(rows)


def follow_moved_hubs(session: Session) -> int:
    """Subscriptions whose feed now names another hub or topic start again there, with a
    new token and secret (the old hub's deliveries no longer match); how many."""
    moved = session.execute(
        select(WebSubSubscription.id, Feed.hub_url, Feed.topic_url)
        .join(Feed, Feed.id == WebSubSubscription.feed_id)
        .where(
            Feed.hub_url.is_not(None),
            or_(
                WebSubSubscription.hub_url != Feed.hub_url,
                WebSubSubscription.topic_url != Feed.topic_url,
            ),
        )
        .with_for_update(of=WebSubSubscription, skip_locked=True)
    ).all()
    for sub_id, hub_url, topic_url in moved:
        session.execute(
            update(WebSubSubscription)
            .where(WebSubSubscription.id == sub_id)
            .values(
                hub_url=hub_url,
                topic_url=topic_url,
                token=new_token(),
                secret=new_secret(),
                state="requested",
                pending=None,
                requested_at=None,
                expires_at=None,
                failures=0,
            )
        )
    return len(moved)


def claim_subscribes(
    session: Session, now: datetime, *, feed_ids: Sequence[int] | None = None, limit: int = 100
) -> list[int]:
    """Subscriptions to (re)subscribe now: new ones, leases near their end, lapsed or failed
    ones past their pause; marks each as waiting for the hub's verification. Their ids."""
    sub = WebSubSubscription
    lease = func.make_interval(0, 0, 0, 0, 0, 0, func.coalesce(sub.lease_seconds, 0))
    margin = func.least(
        func.make_interval(0, 0, 0, 0, 0, 0, RENEW_MARGIN.total_seconds()), lease / 2
    )
    wanted = or_(
        and_(sub.state == "requested", sub.requested_at.is_(None)),
        and_(sub.state.in_(LEASED), sub.expires_at - margin <= now, _retry_due(now)),
        and_(sub.state.in_(RESUBSCRIBE), _retry_due(now)),
    )
    followed = (
        select(Feed.id)
        .where(Feed.id == sub.feed_id, Feed.hub_url.is_not(None), followed_by_anyone())
        .exists()
    )
    stmt = (
        select(sub.id)
        .where(sub.pending.is_(None), wanted, followed)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if feed_ids is not None:
        stmt = stmt.where(sub.feed_id.in_(list(feed_ids)))
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(sub)
            .where(sub.id.in_(ids))
            .values(pending="subscribe", requested_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def claim_unsubscribes(session: Session, now: datetime, *, limit: int = 100) -> list[int]:
    """Subscriptions of feeds nobody follows (or that no longer name a hub) to end at their
    hub; marks each as waiting for the hub's verification. Their ids."""
    sub = WebSubSubscription
    still_wanted = (
        select(Feed.id)
        .where(Feed.id == sub.feed_id, Feed.hub_url.is_not(None), followed_by_anyone())
        .exists()
    )
    ids = list(
        session.scalars(
            select(sub.id)
            .where(
                sub.pending.is_(None),
                sub.state.in_(LEASED),
                ~still_wanted,
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(sub)
            .where(sub.id.in_(ids))
            .values(pending="unsubscribe", requested_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


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


def charge_delivery(session: Session, subscription_id: int, now: datetime, per_minute: int) -> bool:
    """Count a delivery in the subscription's current minute; False when over
    ``per_minute``. A delivery also marks a silent subscription as pushing again."""
    sub = WebSubSubscription
    fresh = or_(
        sub.window_started_at.is_(None), sub.window_started_at <= now - timedelta(minutes=1)
    )
    count = session.scalar(
        update(sub)
        .where(sub.id == subscription_id)
        .values(
            window_started_at=case((fresh, now), else_=sub.window_started_at),
            window_count=case((fresh, 1), else_=sub.window_count + 1),
        )
        .returning(sub.window_count)
        .execution_options(synchronize_session=False)
    )
    return count is not None and count <= per_minute


def add_delivery(
    session: Session,
    subscription_id: int,
    body: bytes,
    *,
    content_type: str | None,
    link: str | None,
    now: datetime,
) -> int:
    """Store a pushed body for a worker, and note the delivery on its subscription; its id."""
    sub = WebSubSubscription
    session.execute(
        update(sub)
        .where(sub.id == subscription_id)
        .values(
            last_delivery_at=now,
            deliveries=sub.deliveries + 1,
            state=func.coalesce(func.nullif(sub.state, "silent"), PUSHING),
        )
        .execution_options(synchronize_session=False)
    )
    return int(
        session.scalar(
            pg_insert(WebSubDelivery)
            .values(
                subscription_id=subscription_id,
                body=body,
                content_type=(content_type or "")[:200] or None,
                link=(link or "")[:2000] or None,
            )
            .returning(WebSubDelivery.id)
        )
    )


@dataclass(frozen=True)
class Delivery:
    """A stored delivery with what a worker needs to parse and store it."""

    id: int
    subscription_id: int
    feed_id: int
    topic_url: str
    body: bytes
    headers: dict[str, str]


def load_delivery(session: Session, delivery_id: int) -> Delivery | None:
    """The delivery and its feed, or None when another job took it already."""
    row = session.execute(
        select(
            WebSubDelivery.id,
            WebSubDelivery.subscription_id,
            WebSubSubscription.feed_id,
            WebSubSubscription.topic_url,
            WebSubDelivery.body,
            WebSubDelivery.content_type,
            WebSubDelivery.link,
        )
        .join(WebSubSubscription, WebSubSubscription.id == WebSubDelivery.subscription_id)
        .where(WebSubDelivery.id == delivery_id)
    ).first()
    if row is None:
        return None
    headers = {"content-type": row.content_type or "", "link": row.link or ""}
    return Delivery(
        row.id, row.subscription_id, row.feed_id, row.topic_url, bytes(row.body), headers
    )


def finish_delivery(
    session: Session, delivery: Delivery, *, items_changed: bool, error: str | None = None
) -> bool:
    """Remove the delivery once stored (or unreadable, with ``error``) and update its feed's
    item count; False when another job finished it first (nothing to do then)."""
    gone = session.execute(
        delete(WebSubDelivery).where(WebSubDelivery.id == delivery.id).returning(WebSubDelivery.id)
    ).first()
    if gone is None:
        return False
    if error is not None:
        session.execute(
            update(WebSubSubscription)
            .where(WebSubSubscription.id == delivery.subscription_id)
            .values(last_error=error[:1000])
        )
    if items_changed:
        session.execute(
            text(
                "UPDATE feeds SET item_count = (SELECT count(*) FROM items "
                "WHERE items.feed_id = feeds.id) WHERE id = :feed_id"
            ),
            {"feed_id": delivery.feed_id},
        )
    return True


def stale_deliveries(session: Session, before: datetime, *, limit: int = 100) -> list[int]:
    """Deliveries still waiting since before ``before``: their job was lost (Redis restarted
    or refused it)."""
    return list(
        session.scalars(
            select(WebSubDelivery.id)
            .where(WebSubDelivery.received_at < before)
            .order_by(WebSubDelivery.id)
            .limit(limit)
        )
    )


def poll_now(session: Session, feed_ids: Sequence[int], now: datetime) -> None:
    """Push stopped for these feeds: refresh them now, then at their normal rate."""
    if feed_ids:
        session.execute(
            update(Feed)
            .where(Feed.id.in_(list(feed_ids)), Feed.next_fetch_at > now)
            .values(next_fetch_at=now)
            .execution_options(synchronize_session=False)
        )


def lapse(session: Session, now: datetime, *, silent_seconds: int) -> list[int]:
    """Subscriptions that stopped pushing: leases that ended (``expired``), hubs silent
    for ``silent_seconds`` (``silent``), requests never verified (``failed``). Their feeds
    are polled now and at their normal rate again; returns the feeds' ids."""
    sub = WebSubSubscription
    silent_since = now - timedelta(seconds=silent_seconds)
    changes = [
        (and_(sub.state.in_(LEASED), sub.expires_at <= now), {"state": "expired"}),
        (
            and_(
                sub.state == PUSHING,
                func.greatest(sub.verified_at, sub.last_delivery_at) < silent_since,
            ),
            {"state": "silent"},
        ),
        (
            and_(sub.pending.is_not(None), sub.requested_at < now - VERIFY_TIMEOUT),
            {
                "pending": None,
                "failures": sub.failures + 1,
                "last_error": "the hub did not verify the request",
                "state": func.coalesce(func.nullif(sub.state, "requested"), "failed"),
            },
        ),
    ]
    feeds: list[int] = []
    for where, values in changes:
        feeds += session.scalars(
            update(sub)
            .where(where)
            .values(values)
            .returning(sub.feed_id)
            .execution_options(synchronize_session=False)
        )
    poll_now(session, feeds, now)
    return feeds


def slow_polling(session: Session, now: datetime, *, poll_seconds: int) -> int:
    """Feeds whose hub pushes are polled at most every ``poll_seconds``: move their next
    fetch that far after their last one; how many moved."""
    later = Feed.last_fetched_at + timedelta(seconds=poll_seconds)
    result = session.execute(
        update(Feed)
        .where(
            Feed.id.in_(
                select(WebSubSubscription.feed_id).where(
                    WebSubSubscription.state == PUSHING, WebSubSubscription.expires_at > now
                )
            ),
            Feed.last_fetched_at.is_not(None),
            Feed.next_fetch_at < later,
        )
        .values(next_fetch_at=later)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]

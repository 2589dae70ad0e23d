"""Which WebSub subscriptions housekeeping asks for, renews, drops or gives up on, and
how polling follows push.

Claims set ``pending`` in the statement that selects the rows (``FOR UPDATE SKIP
LOCKED``), so housekeeping on several dynos sends each request once. Callers commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.storage.models import Feed, WebSubSubscription
from app.storage.subscriptions import followed_by_anyone
from app.storage.websub import (
    LEASED,
    PUSHING,
    RENEW_MARGIN,
    RESUBSCRIBE,
    RETRY_BASE,
    RETRY_MAX,
    VERIFY_TIMEOUT,
    new_secret,
    new_token,
    poll_now,
)


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
                _retry_due(now),
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

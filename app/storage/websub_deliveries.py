"""Bodies WebSub hubs pushed, kept in Postgres until a worker has stored their items.

The web checks the per-subscription rate and stores a body (``add_delivery``); a job
reads it (``load_delivery``) and removes it once its items are stored
(``finish_delivery``). Callers commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.storage.models import WebSubDelivery, WebSubSubscription
from app.storage.websub import PUSHING


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

"""The storage bench's feeds are followed, and a subscription's bytes are counted per feed."""

from __future__ import annotations

from sqlalchemy import func, select

from app.config import Settings
from app.storage.db import Database
from app.storage.models import Feed, Subscription
from bench.accounts import create_account
from bench.storage import feeds_in, per_row_bytes


def test_per_row_bytes_follows_every_feed_and_counts_its_subscription(
    settings: Settings, db: Database
) -> None:
    account = create_account(settings.database_url or "")

    rows = per_row_bytes(db, 200, account.user_id)

    with db.session() as session:
        feeds = session.scalar(select(func.count()).select_from(Feed))
        followed = session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.user_id == account.user_id)
        )
    assert feeds == followed
    assert rows["subscription"] > 0
    without = feeds_in(10**9, {**rows, "subscription": 0.0}, settings)
    assert feeds_in(10**9, rows, settings)["20_items_each"] < without["20_items_each"]

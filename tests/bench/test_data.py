"""Feeds the bench seeds are the bench user's: the scheduler refreshes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import func, select

from app.config import Settings
from app.feed_state import Policy
from app.storage.db import Database
from app.storage.feeds import claim_due_feeds
from app.storage.icons import icon_record, is_icon_due
from app.storage.models import Feed, Fetch, Subscription
from bench.accounts import create_account
from bench.data import seed_due_feeds, submit_feeds
from bench.stack import Services

BASE = "http://127.0.0.1:9/feed/"


def _services(settings: Settings) -> Services:
    account = create_account(settings.database_url or "")
    return Services(settings.database_url or "", settings.redis_url or "", account=account)


def test_seeded_due_feeds_are_followed_by_the_bench_user_and_claimed(
    settings: Settings, db: Database
) -> None:
    services = _services(settings)

    seed_due_feeds(services, BASE, 1, 20, etag=True)

    with db.session() as session:
        followers = session.scalars(select(Subscription.user_id).distinct()).all()
        claimed = claim_due_feeds(
            session, now=datetime.now(UTC), limit=100, policy=Policy.of(settings)
        ).feeds
    assert followers == [services.user.user_id]
    assert len(claimed) == 20


def test_seeded_due_feeds_had_their_icon_looked_for_so_a_refresh_does_not_search_again(
    settings: Settings, db: Database
) -> None:
    services = _services(settings)

    seed_due_feeds(services, BASE, 1, 5, etag=False)

    now = datetime.now(UTC)
    refresh_after = timedelta(days=settings.feed_icon_refresh_days)
    with db.session() as session:
        records = [icon_record(session, feed_id) for feed_id in session.scalars(select(Feed.id))]
    assert len(records) == 5 and all(r is not None for r in records)
    assert not any(is_icon_due(r, None, now=now, refresh_after=refresh_after) for r in records)
    # ... but they are due once a day has passed since that failed search.
    later = now + timedelta(days=1, minutes=1)
    assert all(is_icon_due(r, None, now=later, refresh_after=refresh_after) for r in records)


def test_submitted_bench_feeds_are_followed_by_the_bench_user(
    settings: Settings, db: Database, redis: Redis
) -> None:
    services = _services(settings)

    submit_feeds(services, BASE, 1, 3)

    with db.session() as session:
        feeds = session.scalar(select(func.count()).select_from(Feed))
        fetches = session.scalar(select(func.count()).select_from(Fetch))
        followed = session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.user_id == services.user.user_id)
        )
    assert feeds == fetches == followed == 3

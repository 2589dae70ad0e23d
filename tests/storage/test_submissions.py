"""A submission's rows in one statement (app/storage/submissions.py): what it writes
for a new feed, a known one, a fresh one and one whose fetch is pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, Item, Subscription
from app.storage.submissions import store_submission
from tests.conftest import add_user
from tests.storage.rows import add_feed, add_fetch

URL = "https://e.example/feed"
FRESH_FOR = timedelta(minutes=5)


def test_a_new_feed_gets_its_subscriber_and_a_queued_fetch(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        stored = store_submission(session, URL, user_id=user.id, fresh_for=FRESH_FOR, title="Mine")
        session.commit()
        feed = session.get(Feed, stored.feed_id)
        fetch = session.get(Fetch, stored.fetch.id) if stored.fetch else None
        subscription = session.scalar(select(Subscription))
    assert stored.feed_inserted and not stored.fresh and stored.read_upto_id == 0
    assert feed is not None and (feed.url, feed.current_url, feed.state) == (
        URL,
        URL,
        FeedState.NEW,
    )
    assert fetch is not None and fetch.state == FetchState.QUEUED and fetch.enqueued_at
    # What the 202 reports is what was stored.
    assert stored.fetch is not None and stored.fetch.created_at == fetch.created_at
    assert subscription is not None and (subscription.user_id, subscription.title) == (
        user.id,
        "Mine",
    )


def test_a_new_subscriber_to_a_known_feed_gets_the_watermark_of_its_newest_item(
    db: Database,
) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session, URL)
        ids = session.scalars(
            insert(Item).returning(Item.id),
            [{"feed_id": feed.id, "key": k, "content_hash": "h"} for k in ("a", "b")],
        ).all()
        session.commit()
        first = store_submission(session, URL, user_id=user.id, fresh_for=FRESH_FOR)
        session.commit()
        again = store_submission(session, URL, user_id=user.id, fresh_for=FRESH_FOR)
        session.commit()
        followers = session.scalar(select(func.count()).select_from(Subscription))
    assert not first.feed_inserted and first.read_upto_id == max(ids)
    assert again.read_upto_id is None and followers == 1  # already subscribed: nothing added


def test_a_feed_that_succeeded_within_fresh_for_gets_no_fetch(db: Database) -> None:
    with db.session() as session:
        add_feed(session, URL, last_success_at=datetime.now(UTC) - timedelta(minutes=1))
        session.commit()
        stored = store_submission(session, URL, user_id=None, fresh_for=FRESH_FOR)
        session.commit()
        fetches = session.scalar(select(func.count()).select_from(Fetch))
    assert stored.fresh and stored.fetch is None and fetches == 0


def test_a_feed_that_succeeded_longer_ago_is_fetched_again(db: Database) -> None:
    with db.session() as session:
        add_feed(session, URL, last_success_at=datetime.now(UTC) - timedelta(minutes=6))
        session.commit()
        stored = store_submission(session, URL, user_id=None, fresh_for=FRESH_FOR)
    assert not stored.fresh and stored.fetch is not None


def test_a_feed_with_a_pending_fetch_gets_no_second_one(db: Database) -> None:
    with db.session() as session:
        add_fetch(session, add_feed(session, URL), FetchState.RUNNING)
        session.commit()
        stored = store_submission(session, URL, user_id=None, fresh_for=None)
        session.commit()
        fetches = session.scalar(select(func.count()).select_from(Fetch))
    assert stored.fetch is None and not stored.fresh and fetches == 1

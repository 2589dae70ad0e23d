"""Accepting work (app/services/submissions.py): which addresses are taken, and a submission
is a committed fetch plus its job, or nothing at all."""

from __future__ import annotations

from dataclasses import replace

import pytest
from redis import Redis
from sqlalchemy import func, insert, select

from app.config import Settings
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.services.submissions import (
    BLOCKED,
    QueueUnavailable,
    Refused,
    Subscriber,
    accepted_url,
    blocked_reason,
    request_refresh,
    submit_url,
)
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState, FetchTrigger, Item, ItemState, Subscription
from app.storage.reading import unread_counts
from tests.conftest import add_user

# Decided from the address alone: nothing here connects to any of them.
PRIVATE = ["http://127.0.0.1/feed", "http://10.1.2.3/feed", "http://localhost/feed",
           "http://[::1]/feed", "http://169.254.169.254/latest"]  # fmt: skip


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def guarded(settings: Settings) -> Settings:
    """The production default: private networks off."""
    return replace(settings, fetch_allow_private_networks=False)


@pytest.mark.parametrize("url", PRIVATE)
def test_a_literal_private_or_local_address_is_refused(guarded: Settings, url: str) -> None:
    assert blocked_reason(url, guarded) == BLOCKED
    with pytest.raises(Refused) as refused:
        accepted_url(url, guarded)
    assert refused.value.code == "blocked_address"


def test_private_addresses_are_taken_when_private_networks_are_allowed(settings: Settings) -> None:
    assert all(blocked_reason(url, settings) is None for url in PRIVATE)


def test_a_host_listed_in_allowed_hosts_is_exempt(guarded: Settings) -> None:
    allowed = replace(guarded, fetch_allowed_hosts=frozenset({"localhost"}))
    assert blocked_reason("http://localhost/feed", allowed) is None
    assert blocked_reason("http://127.0.0.1/feed", allowed) == BLOCKED


def test_an_address_is_normalised_or_refused_as_invalid(guarded: Settings) -> None:
    assert accepted_url(" HTTPS://Example.COM:443/a/../feed ", guarded) == "https://example.com/feed"
    with pytest.raises(Refused) as refused:
        accepted_url("ftp://example.com/", guarded)
    assert refused.value.code == "invalid_url"


def test_a_submission_commits_feed_and_fetch_and_enqueues_the_fetchs_job(
    db: Database, queues: Queues
) -> None:
    with db.session() as session:
        submission = submit_url(session, queues, "https://example.com/feed")
    assert submission.created and submission.fetch.state == FetchState.QUEUED
    assert queues.submissions.get_job_ids() == [str(submission.fetch.id)]
    assert _count(db, Feed) == 1 and _count(db, Fetch) == 1


def test_a_second_submission_of_a_pending_feed_returns_its_fetch(
    db: Database, queues: Queues
) -> None:
    with db.session() as session:
        first = submit_url(session, queues, "https://example.com/feed")
        again = submit_url(session, queues, "https://example.com/feed")
    assert not again.created and again.fetch.id == first.fetch.id
    assert queues.submissions.count == 1


def test_a_submission_redis_refuses_leaves_nothing_written(
    db: Database, settings: Settings
) -> None:
    dead = Queues(redis_from_url("redis://127.0.0.1:1/0"), settings)
    with db.session() as session, pytest.raises(QueueUnavailable):
        submit_url(session, dead, "https://example.com/feed")
    assert _count(db, Feed) == 0 and _count(db, Fetch) == 0


def test_a_refresh_redis_refuses_keeps_the_feed(
    db: Database, settings: Settings, redis: Redis
) -> None:
    with db.session() as session:
        feed = Feed(url="https://example.com/feed", current_url="https://example.com/feed")
        session.add(feed)
        session.commit()
        dead = Queues(redis_from_url("redis://127.0.0.1:1/0"), settings)
        with pytest.raises(QueueUnavailable):
            request_refresh(session, dead, feed, FetchTrigger.MANUAL)
    assert _count(db, Feed) == 1 and _count(db, Fetch) == 0


def _feed_with_items(db: Database, count: int) -> int:
    with db.session() as session:
        feed = Feed(url="https://example.com/feed", current_url="https://example.com/feed")
        session.add(feed)
        session.flush()
        rows = [{"feed_id": feed.id, "key": f"k{n}", "content_hash": "h"} for n in range(count)]
        session.execute(insert(Item), rows)
        session.commit()
        return feed.id


def test_a_new_subscriber_to_a_feed_with_items_starts_with_its_newest_unread(
    db: Database, queues: Queues, settings: Settings
) -> None:
    feed_id = _feed_with_items(db, 5)
    user = add_user(db)
    subscriber = Subscriber.of(user.id, replace(settings, new_subscriber_unread=2))
    with db.session() as session:
        submission = submit_url(session, queues, "https://example.com/feed", subscriber)
        assert submission.feed_id == feed_id and submission.created
        assert unread_counts(session, user.id) == {feed_id: 2}
        assert session.scalar(select(func.count()).select_from(ItemState)) == 2


def test_a_subscription_to_a_known_feed_that_redis_refuses_is_taken_back(
    db: Database, settings: Settings
) -> None:
    _feed_with_items(db, 1)
    user = add_user(db)
    dead = Queues(redis_from_url("redis://127.0.0.1:1/0"), settings)
    with db.session() as session, pytest.raises(QueueUnavailable):
        submit_url(session, dead, "https://example.com/feed", Subscriber.of(user.id, settings))
    assert _count(db, Feed) == 1 and _count(db, Subscription) == 0 and _count(db, Fetch) == 0

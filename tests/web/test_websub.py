"""The WebSub callback, /websub/<token>: verification of intent and content distribution."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.config import Settings
from app.context import JobContext
from app.extensions import feedqueue
from app.jobs.websub import run_delivery
from app.pipeline.websub import sign
from app.queue.queues import Queues
from app.storage.db import Database
from app.storage.models import Feed, Item, WebSubDelivery, WebSubSubscription
from tests.conftest import follow

TOPIC = "https://blog.example/feed"
SECRET = "the-subscriptions-secret"
TOKEN = "Ab-_" + "x" * 39
ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>B</title>
<id>urn:b</id><updated>2026-11-30T10:00:00Z</updated>
<entry><id>urn:e1</id><title>Pushed entry</title><updated>2026-11-30T10:00:00Z</updated>
<content type="html">&lt;p onclick="x()"&gt;hello&lt;/p&gt;</content></entry></feed>"""


@pytest.fixture
def subscription(db: Database) -> WebSubSubscription:
    """An active subscription of a feed, waiting for nothing."""
    with db.session() as session:
        feed = Feed(url=TOPIC, current_url=TOPIC, hub_url="https://hub.example/", topic_url=TOPIC)
        session.add(feed)
        session.flush()
        sub = WebSubSubscription(
            feed_id=feed.id, hub_url="https://hub.example/", topic_url=TOPIC, token=TOKEN,
            secret=SECRET, state="active", pending=None,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )  # fmt: skip
        session.add(sub)
        session.commit()
        return sub


def _pending(db: Database, mode: str) -> None:
    with db.session() as session:
        sub = session.scalars(select(WebSubSubscription)).one()
        sub.pending = mode
        session.commit()


def _row(db: Database) -> WebSubSubscription:
    with db.session() as session:
        return session.scalars(select(WebSubSubscription)).one()


def _deliveries(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WebSubDelivery)) or 0)


def _verify(client: FlaskClient, mode: str, topic: str = TOPIC, **extra: str) -> tuple[int, str]:
    params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "ch4ll3nge", **extra}
    response = client.get(f"/websub/{TOKEN}", query_string=params)
    return response.status_code, response.get_data(as_text=True)


def _push(client: FlaskClient, body: bytes = ATOM, signature: str | None = None) -> int:
    headers = {"Content-Type": "application/atom+xml"}
    headers["X-Hub-Signature"] = signature or sign(SECRET, body)
    return client.post(f"/websub/{TOKEN}", data=body, headers=headers).status_code


def test_a_pending_subscription_is_confirmed_with_the_challenge_and_its_lease(
    anon_client: FlaskClient, db: Database, subscription: WebSubSubscription
) -> None:
    _pending(db, "subscribe")
    assert _verify(anon_client, "subscribe", **{"hub.lease_seconds": "3600"}) == (200, "ch4ll3nge")
    row = _row(db)
    assert (row.state, row.pending, row.lease_seconds) == ("active", None, 3600)
    assert row.expires_at == row.verified_at + timedelta(seconds=3600)  # type: ignore[operator]


def test_a_lease_the_hub_does_not_name_is_the_one_asked_for(
    anon_client: FlaskClient, db: Database, settings: Settings, subscription: WebSubSubscription
) -> None:
    _pending(db, "subscribe")
    assert _verify(anon_client, "subscribe")[0] == 200
    assert _row(db).lease_seconds == settings.websub_lease_seconds


def test_a_lease_longer_than_a_year_is_recorded_as_a_year(
    anon_client: FlaskClient, db: Database, subscription: WebSubSubscription
) -> None:
    _pending(db, "subscribe")
    assert _verify(anon_client, "subscribe", **{"hub.lease_seconds": str(10**9)})[0] == 200
    assert _row(db).lease_seconds == 365 * 24 * 3600


@pytest.mark.parametrize(
    ("pending", "mode", "topic"),
    [(None, "subscribe", TOPIC), (None, "unsubscribe", TOPIC), ("subscribe", "unsubscribe", TOPIC),
     ("unsubscribe", "subscribe", TOPIC), ("subscribe", "subscribe", TOPIC + "?x"),
     ("subscribe", "publish", TOPIC)],
)  # fmt: skip
def test_a_verification_of_anything_but_the_pending_request_is_404(
    anon_client: FlaskClient,
    db: Database,
    subscription: WebSubSubscription,
    pending: str | None,
    mode: str,
    topic: str,
) -> None:
    _pending(db, pending)  # type: ignore[arg-type]
    status, text = _verify(anon_client, mode, topic)
    assert status == 404 and "ch4ll3nge" not in text
    assert _row(db).pending == pending


def test_a_confirmed_unsubscription_ends_the_subscription_and_its_deliveries(
    anon_client: FlaskClient, db: Database, subscription: WebSubSubscription
) -> None:
    _pending(db, "unsubscribe")
    assert _verify(anon_client, "unsubscribe") == (200, "ch4ll3nge")
    assert _row(db).state == "unsubscribed"
    assert _push(anon_client) == 410
    assert _deliveries(db) == 0


def test_a_denial_is_recorded_and_the_feed_polled(
    anon_client: FlaskClient, db: Database, subscription: WebSubSubscription
) -> None:
    with db.session() as session:
        session.scalars(select(Feed)).one().next_fetch_at = datetime.now(UTC) + timedelta(hours=6)
        session.commit()
    status, _ = _verify(anon_client, "denied", **{"hub.reason": "spam"})
    assert status == 200
    row = _row(db)
    assert row.state == "denied" and "spam" in (row.last_error or "")
    with db.session() as session:
        assert session.scalars(select(Feed)).one().next_fetch_at <= datetime.now(UTC)  # type: ignore[operator]


def test_a_signed_push_is_stored_and_queued_not_parsed(
    anon_client: FlaskClient, db: Database, queues: Queues, subscription: WebSubSubscription
) -> None:
    assert _push(anon_client) == 202
    assert _deliveries(db) == 1
    assert queues.submissions.count == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
    row = _row(db)
    assert row.deliveries == 1 and row.last_delivery_at is not None


@pytest.mark.parametrize("method", ["sha1", "sha512"])
def test_other_signature_methods_are_accepted(
    anon_client: FlaskClient, db: Database, subscription: WebSubSubscription, method: str
) -> None:
    assert _push(anon_client, signature=sign(SECRET, ATOM, method)) == 202
    assert _deliveries(db) == 1


@pytest.mark.parametrize("signature", ["sha256=" + "0" * 64, "sha256", sign("other", ATOM)])
def test_a_push_with_a_wrong_signature_is_acknowledged_and_dropped(
    anon_client: FlaskClient,
    db: Database,
    queues: Queues,
    subscription: WebSubSubscription,
    signature: str,
) -> None:
    assert _push(anon_client, signature=signature) == 202
    assert _deliveries(db) == 0 and queues.submissions.count == 0


def test_a_push_over_the_size_cap_is_413(
    settings: Settings, db: Database, redis: object, subscription: WebSubSubscription
) -> None:
    app = create_app(replace(settings, websub_max_bytes=len(ATOM) - 1))
    try:
        assert _push(app.test_client()) == 413
    finally:
        feedqueue.of(app).close()
    assert _deliveries(db) == 0


def test_pushes_beyond_the_rate_are_429_with_retry_after(
    settings: Settings, db: Database, redis: object, subscription: WebSubSubscription
) -> None:
    app = create_app(replace(settings, websub_deliveries_per_minute=2))
    try:
        client = app.test_client()
        assert [_push(client) for _ in range(3)] == [202, 202, 429]
        response = client.post(
            f"/websub/{TOKEN}", data=ATOM, headers={"X-Hub-Signature": sign(SECRET, ATOM)}
        )
        assert response.headers["Retry-After"] == "60"
    finally:
        feedqueue.of(app).close()
    assert _deliveries(db) == 2


def test_a_push_to_an_unknown_token_is_410_and_to_a_malformed_one_404(
    anon_client: FlaskClient, db: Database, subscription: WebSubSubscription
) -> None:
    assert anon_client.post("/websub/" + "y" * 43, data=ATOM).status_code == 410
    assert anon_client.post("/websub/" + "y" * 65, data=ATOM).status_code == 404
    assert anon_client.post("/websub/a.b", data=ATOM).status_code == 404


def test_a_stored_push_becomes_sanitised_items_through_the_fetch_pipeline(
    app: Flask,
    db: Database,
    job_context: JobContext,
    subscription: WebSubSubscription,
) -> None:
    assert _push(app.test_client()) == 202
    with db.session() as session:
        delivery_id = session.scalar(select(WebSubDelivery.id))
    assert run_delivery(delivery_id) == {"state": "succeeded", "items_new": 1, "items_updated": 0}
    with db.session() as session:
        item = session.scalars(select(Item)).one()
        assert item.title == "Pushed entry" and "onclick" not in (item.content_html or "")
        assert session.scalars(select(Feed)).one().item_count == 1
    assert _deliveries(db) == 0
    assert run_delivery(delivery_id) == {"skipped": True}


def test_an_unreadable_push_is_dropped_with_its_error(
    app: Flask,
    db: Database,
    job_context: JobContext,
    subscription: WebSubSubscription,
) -> None:
    body = b"<html><body>not a feed</body></html>"
    assert _push(app.test_client(), body) == 202
    with db.session() as session:
        delivery_id = session.scalar(select(WebSubDelivery.id))
    assert run_delivery(delivery_id)["state"] == "failed"
    assert _deliveries(db) == 0
    assert "not_a_feed" in (_row(db).last_error or "")


@pytest.mark.parametrize(
    ("state", "says"),
    [("active", "pushed by the feed's WebSub hub"), ("requested", "Asking the feed's WebSub hub"),
     ("expired", "not pushing (expired)")],
)  # fmt: skip
def test_the_feed_page_shows_whether_its_hub_pushes(
    client: FlaskClient, db: Database, subscription: WebSubSubscription, state: str, says: str
) -> None:
    follow(db, subscription.feed_id)
    with db.session() as session:
        session.scalars(select(WebSubSubscription)).one().state = state
        session.commit()
    page = client.get(f"/feeds/{subscription.feed_id}").get_data(as_text=True)
    assert says in page


def test_the_feed_page_of_a_feed_without_hub_says_nothing_of_push(
    client: FlaskClient, db: Database
) -> None:
    with db.session() as session:
        feed = Feed(url="https://plain.example/", current_url="https://plain.example/")
        session.add(feed)
        session.commit()
    follow(db, feed.id)
    assert "WebSub" not in client.get(f"/feeds/{feed.id}").get_data(as_text=True)


def test_a_push_while_the_queue_is_full_is_503_and_stores_nothing(
    settings: Settings, db: Database, queues: Queues, subscription: WebSubSubscription
) -> None:
    app = create_app(replace(settings, queue_max_jobs=1))
    try:
        client = app.test_client()
        assert _push(client) == 202
        response = client.post(
            f"/websub/{TOKEN}", data=ATOM, headers={"X-Hub-Signature": sign(SECRET, ATOM)}
        )
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    finally:
        feedqueue.of(app).close()
    assert _deliveries(db) == 1

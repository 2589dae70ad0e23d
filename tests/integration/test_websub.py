"""WebSub end to end: a real hub on loopback, the app under gunicorn, real worker dynos.

The feed names the hub; the worker's fetch finds it and subscribes (through the fetch
guard, its loopback spelling allowed by FETCH_ALLOW_PRIVATE_NETWORKS); the hub verifies
the intent by calling the app's callback; what the hub then pushes, signed, is stored
by the web and turned into items by a worker, readable through the JSON API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.storage.db import Database
from app.storage.models import Feed, WebSubDelivery, WebSubSubscription
from tests.conftest import WebDyno, WorkerDyno, wait_for
from tests.feedserver import FeedServer
from tests.websub_hub import Hub

#: While push works, the feed is polled this often (the normal interval: 30 min).
PUSH_POLL = 6 * 3600


def atom(hub: str, self_url: str, *entries: str) -> bytes:
    """An Atom feed naming ``hub`` and ``self_url``, with an entry per title."""
    items = "".join(
        f"<entry><id>urn:{t}</id><title>{t}</title><updated>2026-11-30T1{n}:00:00Z</updated>"
        f"<content type='html'>&lt;p&gt;{t}&lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</content>"
        "</entry>"
        for n, t in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>Pushed</title><link rel="hub" href="{hub}"/><link rel="self" href="{self_url}"/>'
        f"<id>urn:feed</id><updated>2026-11-30T10:00:00Z</updated>{items}</feed>"
    ).encode()


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub().start()
    yield running
    running.stop()


@pytest.fixture
def stack(
    start_web: Callable[..., WebDyno], start_worker: Callable[..., WorkerDyno]
) -> Callable[..., WebDyno]:
    """Start the web, then a worker that knows the web's address as PUBLIC_URL."""

    def start(**worker_env: str) -> WebDyno:
        web = start_web()
        start_worker(
            concurrency=1,
            PUBLIC_URL=web.base_url,
            WEBSUB_EVERY_SECONDS="0.3",
            WEBSUB_POLL_SECONDS=str(PUSH_POLL),
            SCHEDULE_EVERY_SECONDS="0.3",
            **worker_env,
        )
        return web

    return start


def _subscription(db: Database) -> WebSubSubscription | None:
    with db.session() as session:
        return session.scalars(select(WebSubSubscription)).first()


def _titles(client: FlaskClient) -> list[str]:
    response = client.get("/api/items")
    assert response.status_code == 200
    return sorted(item["title"] for item in response.get_json()["items"])


def _subscribed(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub
) -> tuple[str, WebSubSubscription]:
    """Submit the pushed feed and wait until the hub has verified our subscription."""
    topic = feed_server.url("/feed")
    feed_server.add("/feed", atom(hub.url, topic, "One"), content_type="application/atom+xml")
    assert client.post("/feeds", json={"url": topic}).status_code == 202
    first = hub.wait_for_verifications(1)[0]
    assert (first.mode, first.topic, first.status, first.echoed) == ("subscribe", topic, 200, True)
    sub = wait_for(lambda: (s := _subscription(db)) and s.state == "active" and s)
    assert isinstance(sub, WebSubSubscription)
    return topic, sub


def test_a_feed_naming_a_hub_is_subscribed_with_a_secret_and_verified(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    web = stack()
    topic, sub = _subscribed(client, db, feed_server, hub)
    asked = hub.requests[0]
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == topic
    assert asked["hub.callback"] == f"{web.base_url}/websub/{sub.token}"
    assert len(sub.token) >= 43 and asked["hub.secret"] == sub.secret
    assert sub.lease_seconds == int(asked["hub.lease_seconds"])
    assert sub.expires_at is not None and sub.verified_at is not None
    assert sub.expires_at - sub.verified_at == timedelta(seconds=sub.lease_seconds)
    with db.session() as session:
        feed = session.scalars(select(Feed)).one()
        assert (feed.hub_url, feed.topic_url) == (hub.url, topic)


def test_a_signed_delivery_is_stored_by_a_worker_and_readable_through_the_api(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    stack()
    topic, _sub = _subscribed(client, db, feed_server, hub)
    wait_for(lambda: _titles(client) == ["One"])
    assert hub.distribute(topic, atom(hub.url, topic, "One", "Two")) == [202]
    wait_for(lambda: _titles(client) == ["One", "Two"])
    item = next(i for i in client.get("/api/items").get_json()["items"] if i["title"] == "Two")
    detail = client.get(f"/api/items/{item['id']}").get_json()
    # The fetch's sanitiser ran on the pushed body too.
    assert "<script" not in str(detail)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebSubDelivery)) == 0
        assert session.scalars(select(Feed)).one().item_count == 2


@pytest.mark.parametrize("signature", ["wrong", "none"])
def test_a_delivery_without_a_valid_signature_is_acknowledged_and_dropped(
    client: FlaskClient,
    db: Database,
    feed_server: FeedServer,
    hub: Hub,
    stack: Callable,
    signature: str,
) -> None:
    stack()
    topic, _sub = _subscribed(client, db, feed_server, hub)
    wait_for(lambda: _titles(client) == ["One"])
    forged = atom(hub.url, topic, "One", "Forged")
    assert hub.distribute(topic, forged, signature=signature) == [202]
    with db.session() as session:
        # The web decides before it answers: nothing was stored for a worker.
        assert session.scalar(select(func.count()).select_from(WebSubDelivery)) == 0
    assert hub.distribute(topic, atom(hub.url, topic, "One", "Three")) == [202]
    wait_for(lambda: "Three" in _titles(client))
    assert _titles(client) == ["One", "Three"]


def test_a_verification_nobody_asked_for_is_refused(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    web = stack()
    topic, sub = _subscribed(client, db, feed_server, hub)
    callback = f"{web.base_url}/websub/{sub.token}"
    # Nothing pending now: neither an unsubscription, nor a second subscription, nor
    # another topic, nor a made-up callback is confirmed.
    assert hub.verify(callback, "unsubscribe", topic) == (404, False)
    assert hub.verify(callback, "subscribe", topic, 60) == (404, False)
    assert hub.verify(callback, "subscribe", topic + "?other", 60) == (404, False)
    assert hub.verify(f"{web.base_url}/websub/made-up", "subscribe", topic, 60) == (404, False)
    after = _subscription(db)
    assert after is not None and after.state == "active"
    assert after.lease_seconds == sub.lease_seconds


def test_a_lease_is_renewed_before_it_ends(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    hub.grant_lease = 4  # renewed at half its length, 2 s before it ends
    stack()
    _topic, first = _subscribed(client, db, feed_server, hub)
    second = hub.wait_for_verifications(2)[1]
    assert (second.mode, second.status, second.echoed) == ("subscribe", 200, True)
    assert hub.requests[1]["hub.callback"] == hub.requests[0]["hub.callback"]
    renewed = wait_for(
        lambda: (s := _subscription(db)) and s.expires_at > first.expires_at and s  # type: ignore[operator]
    )
    assert isinstance(renewed, WebSubSubscription) and renewed.state == "active"


def test_polling_slows_while_push_works_and_resumes_when_the_lease_lapses(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    hub.grant_lease = 4
    stack()
    _subscribed(client, db, feed_server, hub)

    def feed() -> Feed:
        with db.session() as session:
            return session.scalars(select(Feed)).one()

    slowed = wait_for(
        lambda: (
            (f := feed()).last_fetched_at
            and f.next_fetch_at >= f.last_fetched_at + timedelta(seconds=PUSH_POLL)
        )  # type: ignore[operator]
    )
    assert slowed
    fetched = feed_server.hits("/feed")
    hub.refuse = True  # the renewal fails: the lease runs out
    lapsed = wait_for(lambda: (s := _subscription(db)) and s.state == "expired" and s, timeout=20)
    assert isinstance(lapsed, WebSubSubscription) and lapsed.last_error
    # Polled again at once, then on the normal schedule.
    wait_for(lambda: feed_server.hits("/feed") > fetched, timeout=20)
    after = feed()
    assert after.next_fetch_at is not None and after.last_fetched_at is not None
    assert after.next_fetch_at < after.last_fetched_at + timedelta(seconds=PUSH_POLL)


def test_a_denied_subscription_leaves_the_feed_polled(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    hub.deny = True
    stack()
    topic = feed_server.url("/feed")
    feed_server.add("/feed", atom(hub.url, topic, "One"), content_type="application/atom+xml")
    assert client.post("/feeds", json={"url": topic}).status_code == 202
    denied = wait_for(lambda: (s := _subscription(db)) and s.state == "denied" and s)
    assert isinstance(denied, WebSubSubscription) and "not here" in (denied.last_error or "")
    assert hub.subscribers(topic) == []


def test_a_feed_nobody_follows_any_more_is_unsubscribed_at_its_hub(
    client: FlaskClient, db: Database, feed_server: FeedServer, hub: Hub, stack: Callable
) -> None:
    web = stack()
    topic, sub = _subscribed(client, db, feed_server, hub)
    assert client.delete(f"/api/subscriptions/{sub.feed_id}").status_code == 204
    second = hub.wait_for_verifications(2)[1]
    assert (second.mode, second.topic, second.status, second.echoed) == (
        "unsubscribe", topic, 200, True,
    )  # fmt: skip
    assert hub.subscribers(topic) == []
    ended = wait_for(lambda: (s := _subscription(db)) and s.state == "unsubscribed" and s)
    assert isinstance(ended, WebSubSubscription)
    # A late push to the ended subscription's callback tells the hub to stop.
    late = requests.post(f"{web.base_url}/websub/{sub.token}", data=b"<feed/>", timeout=5)
    assert late.status_code == 410

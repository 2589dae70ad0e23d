"""WebSub jobs run inline: housekeeping's upkeep and the hub request without PUBLIC_URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.context import JobContext
from app.jobs.fetch import run_one
from app.jobs.websub import callback_url, maintain, run_hub_request
from app.storage.db import Database
from app.storage.feeds import upsert_feed
from app.storage.fetches import create_fetch
from app.storage.models import Feed, FetchTrigger, WebSubDelivery, WebSubSubscription
from tests.conftest import follow
from tests.feedserver import FeedServer, Response

TOPIC = "https://blog.example/feed"


def _followed_feed_with_hub(db: Database) -> int:
    with db.session() as session:
        feed = Feed(url=TOPIC, current_url=TOPIC, hub_url="https://hub.example/", topic_url=TOPIC)
        session.add(feed)
        session.commit()
        feed_id = feed.id
    return follow(db, feed_id)


def _subscriptions(db: Database) -> list[WebSubSubscription]:
    with db.session() as session:
        return list(session.scalars(select(WebSubSubscription)))


def test_without_public_url_no_feed_is_subscribed(db: Database, job_context: JobContext) -> None:
    _followed_feed_with_hub(db)
    assert maintain(job_context)["requests"] == 0
    assert _subscriptions(db) == []


def test_with_public_url_housekeeping_asks_the_hub(
    db: Database, job_context_with: Callable[..., JobContext]
) -> None:
    ctx = job_context_with(public_url="https://reader.example")
    _followed_feed_with_hub(db)
    assert maintain(ctx)["requests"] == 1
    (sub,) = _subscriptions(db)
    assert sub.pending == "subscribe"
    assert ctx.queues.submissions.count == 1
    assert maintain(ctx)["requests"] == 0  # waiting for the hub: not asked twice


def test_a_hub_request_without_public_url_fails_visibly(
    db: Database, job_context_with: Callable[..., JobContext]
) -> None:
    ctx = job_context_with(public_url="https://reader.example")
    _followed_feed_with_hub(db)
    maintain(ctx)
    job_context_with(public_url=None)
    (sub,) = _subscriptions(db)
    assert run_hub_request(sub.id) == {"state": "failed", "error_code": "no_public_url"}
    (after,) = _subscriptions(db)
    assert (after.state, after.pending, after.failures) == ("failed", None, 1)


def test_the_callback_is_the_public_url_and_the_token() -> None:
    assert callback_url("https://r.example/", "tok") == "https://r.example/websub/tok"


def test_a_delivery_whose_job_was_lost_is_enqueued_again_once(
    db: Database, job_context_with: Callable[..., JobContext]
) -> None:
    ctx = job_context_with(public_url="https://reader.example")
    feed_id = _followed_feed_with_hub(db)
    with db.session() as session:
        sub = WebSubSubscription(
            feed_id=feed_id, hub_url="https://hub.example/", topic_url=TOPIC, token="t",
            secret="s", state="active", expires_at=datetime.now(UTC) + timedelta(days=1),
        )  # fmt: skip
        session.add(sub)
        session.flush()
        session.add(WebSubDelivery(subscription_id=sub.id, body=b"<feed/>"))
        session.commit()
    assert maintain(ctx)["stale"] == 0  # just arrived: its job may be on its way
    with db.session() as session:
        old = datetime.now(UTC) - timedelta(minutes=5)
        session.execute(update(WebSubDelivery).values(received_at=old))
        session.commit()
    maintain(ctx)
    assert ctx.queues.submissions.count == 1
    maintain(ctx)
    assert ctx.queues.submissions.count == 1  # RQ holds it: not enqueued twice


def _rss_naming(hub: str | None) -> bytes:
    link = f'<atom:link rel="hub" href="{hub}"/>' if hub else ""
    return f"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
    <channel><title>t</title>{link}<item><guid>{hub}</guid><title>one</title></item>
    </channel></rss>""".encode()


def _fetch_hub(ctx: JobContext, db: Database, url: str) -> tuple[str | None, str | None]:
    with db.session() as session:
        feed, _ = upsert_feed(session, url)
        fetch, _ = create_fetch(session, feed.id, FetchTrigger.SUBMITTED)
        session.commit()
        feed_id, fetch_id = feed.id, fetch.id
    run_one(ctx, fetch_id)
    with db.session() as session:
        stored = session.get(Feed, feed_id)
        assert stored is not None
        return stored.hub_url, stored.topic_url


def test_a_fetch_records_a_hub_found_and_forgets_one_no_longer_named(
    db: Database, job_context: JobContext, feed_server: FeedServer
) -> None:
    body = {"now": _rss_naming("https://hub.example/")}
    url = feed_server.route(
        "/f.xml", lambda _r: Response(200, body["now"], {"Content-Type": "application/rss+xml"})
    )
    assert _fetch_hub(job_context, db, url) == ("https://hub.example/", url)
    body["now"] = _rss_naming("https://other-hub.example/")
    assert _fetch_hub(job_context, db, url) == ("https://other-hub.example/", url)
    body["now"] = _rss_naming(None)
    assert _fetch_hub(job_context, db, url) == (None, None)

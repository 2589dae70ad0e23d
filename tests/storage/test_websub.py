"""WebSub rows: which subscriptions are asked, renewed, lapsed, and how polling follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.storage import websub as rows
from app.storage import websub_claims as claims
from app.storage import websub_deliveries as deliveries
from app.storage.db import Database
from app.storage.models import Feed, WebSubSubscription
from app.storage.subscriptions import unsubscribe
from tests.conftest import add_user, follow

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HUB = "https://hub.example/"


def _feed(db: Database, url: str = "https://blog.example/feed", *, followed: bool = True) -> int:
    with db.session() as session:
        feed = Feed(url=url, current_url=url, hub_url=HUB, topic_url=url, next_fetch_at=NOW)
        session.add(feed)
        session.commit()
        feed_id = feed.id
    if followed:
        follow(db, feed_id)
    return feed_id


def _sub(db: Database, feed_id: int) -> WebSubSubscription:
    with db.session() as session:
        sub = rows.of_feed(session, feed_id)
        assert sub is not None
        return sub


def _set(db: Database, feed_id: int, **values: object) -> None:
    with db.session() as session:
        sub = rows.of_feed(session, feed_id)
        assert sub is not None
        for name, value in values.items():
            setattr(sub, name, value)
        session.commit()


def _claim(db: Database, now: datetime = NOW) -> list[int]:
    with db.session() as session:
        claims.create_missing(session, now)
        ids = claims.claim_subscribes(session, now)
        session.commit()
    return ids


def test_a_followed_feed_naming_a_hub_gets_a_subscription_with_its_own_token_and_secret(
    db: Database,
) -> None:
    first, second = _feed(db), _feed(db, "https://other.example/feed")
    assert len(_claim(db)) == 2
    a, b = _sub(db, first), _sub(db, second)
    assert (a.pending, a.requested_at) == ("subscribe", NOW)
    assert (a.hub_url, a.topic_url) == (HUB, "https://blog.example/feed")
    assert len({a.token, b.token}) == 2 and len({a.secret, b.secret}) == 2
    assert len(a.token) == 43 and len(a.secret) == 64


def test_a_feed_nobody_follows_is_not_subscribed(db: Database) -> None:
    _feed(db, followed=False)
    assert _claim(db) == []


def test_a_pending_request_is_not_claimed_twice(db: Database) -> None:
    _feed(db)
    assert len(_claim(db)) == 1
    assert _claim(db, NOW + timedelta(minutes=1)) == []


def test_an_active_lease_is_renewed_a_day_before_it_ends(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    ends = NOW + timedelta(days=10)
    _set(db, feed_id, state="active", pending=None, lease_seconds=864000, expires_at=ends)
    assert _claim(db, ends - timedelta(days=1, minutes=1)) == []
    assert len(_claim(db, ends - timedelta(days=1))) == 1


def test_a_short_lease_is_renewed_at_half_its_length(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    _set(db, feed_id, state="active", pending=None, lease_seconds=600,
         expires_at=NOW + timedelta(seconds=600))  # fmt: skip
    assert _claim(db, NOW + timedelta(seconds=299)) == []
    assert len(_claim(db, NOW + timedelta(seconds=300))) == 1


def test_a_failed_request_is_asked_again_after_a_growing_pause(db: Database) -> None:
    feed_id = _feed(db)
    (sub_id,) = _claim(db)
    with db.session() as session:
        rows.request_failed(session, sub_id, "http_503: down")
        session.commit()
    sub = _sub(db, feed_id)
    assert (sub.state, sub.pending, sub.failures) == ("failed", None, 1)
    assert _claim(db, NOW + timedelta(seconds=119)) == []
    assert _claim(db, NOW + timedelta(seconds=120)) == [sub_id]


def test_a_failed_renewal_keeps_the_lease_pushing(db: Database) -> None:
    feed_id = _feed(db)
    (sub_id,) = _claim(db)
    _set(db, feed_id, state="active", pending="subscribe", expires_at=NOW + timedelta(hours=1))
    with db.session() as session:
        rows.request_failed(session, sub_id, "timeout")
        session.commit()
    assert _sub(db, feed_id).state == "active"


def test_an_ended_lease_expires_and_its_feed_is_polled_at_once(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    _set(db, feed_id, state="active", pending=None, expires_at=NOW + timedelta(hours=1))
    with db.session() as session:
        session.get(Feed, feed_id).next_fetch_at = NOW + timedelta(hours=6)  # type: ignore[union-attr]
        session.commit()
    later = NOW + timedelta(hours=2)
    with db.session() as session:
        assert claims.lapse(session, later, silent_seconds=7 * 86400) == [feed_id]
        session.commit()
        assert session.get(Feed, feed_id).next_fetch_at == later  # type: ignore[union-attr]
    assert _sub(db, feed_id).state == "expired"


def test_a_silent_hub_stops_counting_as_pushing(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    _set(db, feed_id, state="active", pending=None, verified_at=NOW,
         expires_at=NOW + timedelta(days=10))  # fmt: skip
    with db.session() as session:
        assert claims.lapse(session, NOW + timedelta(hours=1), silent_seconds=3600) == []
        assert claims.lapse(session, NOW + timedelta(hours=1, seconds=1), silent_seconds=3600) == [
            feed_id
        ]
        session.commit()
    assert _sub(db, feed_id).state == "silent"


def test_a_request_the_hub_never_verifies_fails(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    with db.session() as session:
        claims.lapse(session, NOW + rows.VERIFY_TIMEOUT + timedelta(seconds=1), silent_seconds=60)
        session.commit()
    sub = _sub(db, feed_id)
    assert (sub.state, sub.pending, sub.failures) == ("failed", None, 1)


def test_a_pushed_feed_is_polled_at_most_every_push_poll_interval(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    _set(db, feed_id, state="active", pending=None, expires_at=NOW + timedelta(days=1))
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        feed.last_fetched_at, feed.next_fetch_at = NOW, NOW + timedelta(minutes=30)
        session.commit()
    with db.session() as session:
        assert claims.slow_polling(session, NOW, poll_seconds=6 * 3600) == 1
        assert claims.slow_polling(session, NOW, poll_seconds=6 * 3600) == 0
        session.commit()
        next_at = session.scalar(select(Feed.next_fetch_at).where(Feed.id == feed_id))
    assert next_at == NOW + timedelta(hours=6)


def test_a_feed_nobody_follows_any_more_is_unsubscribed(db: Database) -> None:
    feed_id = _feed(db)
    (sub_id,) = _claim(db)
    _set(db, feed_id, state="active", pending=None, expires_at=NOW + timedelta(days=1))
    with db.session() as session:
        assert claims.claim_unsubscribes(session, NOW) == []
        unsubscribe(session, add_user(db).id, feed_id)
        session.commit()
    with db.session() as session:
        assert claims.claim_unsubscribes(session, NOW) == [sub_id]
        session.commit()
    assert _sub(db, feed_id).pending == "unsubscribe"


def test_a_feed_that_moves_hub_subscribes_again_with_a_new_token(db: Database) -> None:
    feed_id = _feed(db)
    _claim(db)
    old = _sub(db, feed_id)
    _set(db, feed_id, state="active", pending=None)
    with db.session() as session:
        assert rows.note_hub(session, feed_id, "https://new-hub.example/", old.topic_url)
        assert not rows.note_hub(session, feed_id, "https://new-hub.example/", old.topic_url)
        assert claims.follow_moved_hubs(session) == 1
        session.commit()
    new = _sub(db, feed_id)
    assert new.hub_url == "https://new-hub.example/" and new.state == "requested"
    assert new.token != old.token and new.secret != old.secret
    assert _claim(db) == [new.id]


def test_deliveries_are_limited_per_subscription_and_minute(db: Database) -> None:
    feed_id = _feed(db)
    (sub_id,) = _claim(db)
    with db.session() as session:
        assert all(deliveries.charge_delivery(session, sub_id, NOW, 3) for _ in range(3))
        assert not deliveries.charge_delivery(session, sub_id, NOW + timedelta(seconds=59), 3)
        assert deliveries.charge_delivery(session, sub_id, NOW + timedelta(seconds=61), 3)
        session.commit()
    assert _sub(db, feed_id).window_count == 1


def test_a_failed_unsubscription_is_asked_again_after_a_pause(db: Database) -> None:
    feed_id = _feed(db)
    (sub_id,) = _claim(db)
    _set(db, feed_id, state="active", pending=None, expires_at=NOW + timedelta(days=1))
    with db.session() as session:
        unsubscribe(session, add_user(db).id, feed_id)
        assert claims.claim_unsubscribes(session, NOW) == [sub_id]
        rows.request_failed(session, sub_id, "http_503: down")
        session.commit()
    with db.session() as session:
        assert claims.claim_unsubscribes(session, NOW + timedelta(seconds=119)) == []
        assert claims.claim_unsubscribes(session, NOW + timedelta(seconds=120)) == [sub_id]

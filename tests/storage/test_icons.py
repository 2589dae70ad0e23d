"""The feed_icons table: when a search is due, what a search writes, who may read icons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from app.storage.db import Database
from app.storage.icons import (
    RETRY_AFTER_ERROR,
    follows,
    icon_record,
    icon_versions,
    icons_of,
    is_icon_due,
    save_icon,
    stored_icon,
)
from app.storage.models import Feed, FeedIcon
from app.storage.users import user_by_name
from tests.storage.rows import add_feed, add_follower

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
WEEK = timedelta(days=7)
PNG = b"\x89PNG\r\n\x1a\nbytes"
FOUND = ("https://s.example/i.png", "image/png", PNG, "a" * 64)


def _feed(db: Database, url: str = "https://s.example/feed", username: str = "follower") -> int:
    with db.session() as session:
        feed_id = add_follower(session, add_feed(session, url), username).id
        session.commit()
    return feed_id


def _due(db: Database, feed_id: int, declared: str | None, now: datetime) -> bool:
    with db.session() as session:
        return is_icon_due(
            icon_record(session, feed_id), declared, now=now, refresh_after=WEEK
        )


def _save(db: Database, feed_id: int, **values: object) -> None:
    with db.session() as session:
        save_icon(session, feed_id, **values)  # type: ignore[arg-type]
        session.commit()


def test_an_icon_never_looked_for_is_due(db: Database) -> None:
    assert _due(db, _feed(db), None, NOW)


def test_a_found_icon_is_due_again_after_the_refresh_period(db: Database) -> None:
    feed_id = _feed(db)
    _save(db, feed_id, declared_url=None, now=NOW, found=FOUND)
    assert not _due(db, feed_id, None, NOW + WEEK - timedelta(minutes=1))
    assert _due(db, feed_id, None, NOW + WEEK)


def test_a_failed_search_is_retried_after_a_day(db: Database) -> None:
    feed_id = _feed(db)
    _save(db, feed_id, declared_url=None, now=NOW, error="no icon")
    assert not _due(db, feed_id, None, NOW + RETRY_AFTER_ERROR - timedelta(minutes=1))
    assert _due(db, feed_id, None, NOW + RETRY_AFTER_ERROR)


def test_a_feed_naming_another_icon_is_due_at_once(db: Database) -> None:
    feed_id = _feed(db)
    _save(db, feed_id, declared_url="https://s.example/a.png", now=NOW, found=FOUND)
    assert not _due(db, feed_id, "https://s.example/a.png", NOW)
    assert _due(db, feed_id, "https://s.example/b.png", NOW)


def test_a_failed_refresh_keeps_the_icon_found_before(db: Database) -> None:
    feed_id = _feed(db)
    _save(db, feed_id, declared_url=None, now=NOW, found=FOUND)
    _save(db, feed_id, declared_url=None, now=NOW + WEEK, error="x" * 2000)
    with db.session() as session:
        row = session.get(FeedIcon, feed_id)
        assert row is not None and row.body == PNG and len(row.error or "") == 500
        assert row.fetched_at == NOW + WEEK
        assert session.scalar(select(FeedIcon.feed_id).where(FeedIcon.feed_id == feed_id))


def test_icons_are_read_only_through_a_subscription(db: Database) -> None:
    mine = _feed(db, "https://a.example/feed", "alice")
    theirs = _feed(db, "https://b.example/feed", "bob")
    for feed_id in (mine, theirs):
        _save(db, feed_id, declared_url=None, now=NOW, found=FOUND)
    with db.session() as session:
        alice = user_by_name(session, "alice")
        assert alice is not None
        assert follows(session, alice.id, mine) and not follows(session, alice.id, theirs)
        assert not follows(session, alice.id, 2**63)
        assert icon_versions(session, alice.id) == {mine: "a" * 64}
        assert [icon.feed_id for icon in icons_of(session, alice.id)] == [mine]
        icon = stored_icon(session, mine)
        assert icon is not None and (icon.content_type, icon.body) == ("image/png", PNG)


def test_a_feed_without_an_icon_has_none_to_serve(db: Database) -> None:
    feed_id = _feed(db)
    _save(db, feed_id, declared_url=None, now=NOW, error="no icon")
    with db.session() as session:
        assert stored_icon(session, feed_id) is None


def test_an_icon_goes_with_its_feed(db: Database) -> None:
    feed_id = _feed(db)
    _save(db, feed_id, declared_url=None, now=NOW, found=FOUND)
    with db.session() as session:
        session.execute(delete(Feed).where(Feed.id == feed_id))
        session.commit()
        assert session.get(FeedIcon, feed_id) is None

"""Enclosures in the items table: written by the batched upsert, updated when they change,
never repeated, deleted with their item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.pipeline.items import make_item
from app.pipeline.models import Enclosure, ParsedItem
from app.storage import retention
from app.storage.db import Database
from app.storage.items import store_items
from app.storage.models import Item, Subscription
from app.storage.reading import Filters, get_item, river_page
from tests.storage.rows import add_feed, add_follower

EPISODE = Enclosure("https://cdn.example/ep.mp3", "audio/mpeg", 48213000)
OLD = datetime(2025, 1, 1, tzinfo=UTC)


def _item(key: str, enclosures: list[Enclosure], published: datetime = OLD) -> ParsedItem:
    return make_item(
        guid=key,
        url=None,
        title=key,
        author=None,
        summary_html="<p>s</p>",
        content_html=None,
        published_at=published,
        updated_at=None,
        enclosures=enclosures,
    )


def _feed(db: Database) -> int:
    with db.session() as session:
        feed_id = add_follower(session, add_feed(session)).id
        session.commit()
    return feed_id


def _store(db: Database, feed_id: int, items: list[ParsedItem]) -> tuple[int, int]:
    with db.session() as session:
        stored = store_items(session, feed_id, items)
        session.commit()
    return stored.new, stored.updated


def _enclosures(db: Database, feed_id: int) -> dict[str, object]:
    with db.session() as session:
        rows = session.execute(select(Item.key, Item.enclosures).where(Item.feed_id == feed_id))
        return {key: value for key, value in rows}


def test_enclosures_are_stored_with_their_item_and_none_is_null(db: Database) -> None:
    feed_id = _feed(db)
    assert _store(db, feed_id, [_item("a", [EPISODE]), _item("b", [])]) == (2, 0)
    assert _enclosures(db, feed_id) == {
        "guid:a": [{"url": EPISODE.url, "type": "audio/mpeg", "length": 48213000}],
        "guid:b": None,
    }


def test_a_refresh_with_the_same_enclosures_writes_nothing(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item("a", [EPISODE])])
    assert _store(db, feed_id, [_item("a", [EPISODE])]) == (0, 0)
    assert len(_enclosures(db, feed_id)["guid:a"]) == 1


def test_changed_enclosures_update_the_item(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item("a", [EPISODE])])
    moved = Enclosure("https://cdn2.example/ep.mp3", "audio/mpeg", None)
    assert _store(db, feed_id, [_item("a", [moved])]) == (0, 1)
    assert _enclosures(db, feed_id)["guid:a"] == [
        {"url": moved.url, "type": "audio/mpeg", "length": None}
    ]
    assert _store(db, feed_id, [_item("a", [])]) == (0, 1)
    assert _enclosures(db, feed_id)["guid:a"] is None


def test_items_without_the_attribute_are_stored_without_enclosures(db: Database) -> None:
    # Callers with their own item type (bench/storage.py) need not know of enclosures.
    class Plain:
        key, guid, url, title, author = "p", None, None, "p", None
        summary_html, content_html, published_at, updated_at = None, None, OLD, None
        content_hash = "h"

    feed_id = _feed(db)
    assert _store(db, feed_id, [Plain()]) == (1, 0)  # type: ignore[list-item]
    assert _enclosures(db, feed_id) == {"p": None}


def test_the_river_and_one_item_carry_the_enclosures(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item("a", [EPISODE])])
    with db.session() as session:
        user_id = session.scalar(
            select(Subscription.user_id).where(Subscription.feed_id == feed_id)
        )
        page = river_page(session, user_id, Filters())
        row = page.rows[0]
        assert row.enclosures == [{"url": EPISODE.url, "type": "audio/mpeg", "length": 48213000}]
        assert get_item(session, user_id, row.id).enclosures == row.enclosures


def test_enclosures_are_deleted_with_their_items_by_retention(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item(f"i{n}", [EPISODE], OLD - timedelta(days=n)) for n in range(3)])
    with db.session() as session:
        deleted = retention.delete_old_items(
            session, feed_id, keep=1, before=datetime.now(UTC), limit=10
        )
        session.commit()
    assert deleted == 2
    assert list(_enclosures(db, feed_id)) == ["guid:i0"]

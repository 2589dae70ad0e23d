from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.pipeline.models import ParsedItem
from app.storage.db import Database
from app.storage.items import RECENT_ITEMS, StoredItems, store_items
from app.storage.models import Feed, Item

NOW = datetime.now(UTC).replace(microsecond=0)


def _item(n: int, *, hours_ago: float | None = None, body: str = "v1") -> ParsedItem:
    published = NOW - timedelta(hours=n if hours_ago is None else hours_ago)
    return ParsedItem(
        key=f"k{n}",
        guid=f"g{n}",
        url=f"https://e.com/{n}",
        title=f"Item {n}",
        author=None,
        summary_html=f"<p>{body}</p>",
        content_html=None,
        published_at=published,
        updated_at=None,
        content_hash=f"{n}-{body}",
    )


def _feed(db: Database) -> int:
    with db.session() as session:
        feed = Feed(url="https://e.com/f", current_url="https://e.com/f")
        session.add(feed)
        session.commit()
        return feed.id


def _store(db: Database, feed_id: int, items: list[ParsedItem]) -> StoredItems:
    with db.session() as session:
        stored = store_items(session, feed_id, items)
        session.commit()
        return stored


def _rows(db: Database, feed_id: int) -> dict[str, Item]:
    with db.session() as session:
        items = session.scalars(select(Item).where(Item.feed_id == feed_id)).all()
        return {item.key: item for item in items}


def test_new_items_are_inserted_and_counted(db: Database) -> None:
    feed_id = _feed(db)
    stored = _store(db, feed_id, [_item(1), _item(2)])
    assert (stored.new, stored.updated) == (2, 0)
    rows = _rows(db, feed_id)
    assert rows["k1"].title == "Item 1" and rows["k1"].summary_html == "<p>v1</p>"
    assert rows["k2"].published_at == NOW - timedelta(hours=2)


def test_storing_the_same_items_again_writes_and_counts_nothing(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item(1), _item(2)])
    before = _rows(db, feed_id)["k1"].changed_at
    assert _store(db, feed_id, [_item(1), _item(2)]) == StoredItems(0, 0, [])
    assert _rows(db, feed_id)["k1"].changed_at == before


def test_a_changed_item_is_updated_and_a_new_one_inserted(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item(1), _item(2)])
    stored = _store(db, feed_id, [_item(1, body="v2"), _item(2), _item(3)])
    assert (stored.new, stored.updated) == (1, 1)
    rows = _rows(db, feed_id)
    assert rows["k1"].summary_html == "<p>v2</p>" and rows["k1"].content_hash == "1-v2"
    assert set(rows) == {"k1", "k2", "k3"}


def test_a_key_repeated_in_one_document_is_stored_once_first_version_wins(db: Database) -> None:
    feed_id = _feed(db)
    stored = _store(db, feed_id, [_item(1), _item(1, body="later copy")])
    assert (stored.new, stored.updated) == (1, 0)
    assert _rows(db, feed_id)["k1"].summary_html == "<p>v1</p>"


def test_no_items_is_a_no_op(db: Database) -> None:
    assert _store(db, _feed(db), []) == StoredItems(0, 0, [])


def test_items_dated_in_the_future_sort_as_now(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item(1, hours_ago=-48)])
    assert _rows(db, feed_id)["k1"].sort_at <= datetime.now(UTC)


def test_recent_publication_times_are_the_newest_after_the_write(db: Database) -> None:
    feed_id = _feed(db)
    _store(db, feed_id, [_item(n) for n in range(2, 40)])
    # Item 1 is newer than every stored one; item 2's new version is dated far back,
    # so its stored copy (2 hours ago) must not count any more.
    stored = _store(db, feed_id, [_item(1), _item(2, hours_ago=1000, body="v2")])
    expected = [NOW - timedelta(hours=h) for h in [1, *range(3, 3 + RECENT_ITEMS - 1)]]
    assert stored.recent_published == expected


def test_recent_publication_times_leave_out_undated_items(db: Database) -> None:
    feed_id = _feed(db)
    undated = replace(_item(2), published_at=None)
    stored = _store(db, feed_id, [_item(1), undated, _item(3)])
    assert stored.recent_published == [NOW - timedelta(hours=1), NOW - timedelta(hours=3)]

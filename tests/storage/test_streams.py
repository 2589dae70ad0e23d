"""Streams of a person's items for the Google Reader API: filters, order, keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from app.storage import reading, streams
from app.storage.db import Database
from app.storage.models import Item
from app.storage.streams import StreamQuery
from tests.conftest import add_user
from tests.storage.rows import add_feed, subscribe

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _items(session: Session, feed_id: int, sort_ats: list[datetime]) -> list[int]:
    rows = [
        {"feed_id": feed_id, "key": f"k{n}", "content_hash": "h", "sort_at": at}
        for n, at in enumerate(sort_ats)
    ]
    return list(session.scalars(insert(Item).returning(Item.id), rows))


def _all(session: Session, user_id: int, query: StreamQuery, limit: int) -> list[int]:
    seen, cursor = [], None
    while True:
        page = streams.stream_page(session, user_id, query, cursor, limit=limit)
        seen += [row.item.id for row in page.rows]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.fixture(params=["per feed", "one scan"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a page is read: each feed's newest items first, or one scan."""
    monkeypatch.setattr(streams, "LATERAL_MAX", 10**6 if request.param == "per feed" else 0)
    return request.param


def test_pages_neither_skip_nor_repeat_items_sorted_at_the_same_time(
    db: Database, plan: str
) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        ids = _items(session, feed.id, [BASE] * 5 + [BASE + timedelta(hours=1)] * 2)
        subscribe(session, user.id, feed.id, unread_recent=100)
        newest_first = _all(session, user.id, StreamQuery(), limit=2)
        oldest_first = _all(session, user.id, StreamQuery(oldest_first=True), limit=3)
    assert newest_first == [ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]]
    assert oldest_first == list(reversed(newest_first))


def test_a_stream_holds_only_the_persons_items_in_the_state_asked_for(
    db: Database, plan: str
) -> None:
    alice, bob = add_user(db, "alice"), add_user(db, "bob")
    with db.session() as session:
        mine, theirs = (
            add_feed(session, "https://a.example/f"),
            add_feed(session, "https://b.example/f"),
        )
        my_ids = _items(
            session, mine.id, [BASE, BASE + timedelta(hours=1), BASE + timedelta(hours=2)]
        )
        _items(session, theirs.id, [BASE])
        subscribe(session, alice.id, mine.id, unread_recent=100)
        subscribe(session, bob.id, theirs.id, unread_recent=100)
        reading.mark_read(session, alice.id, [my_ids[0]])
        reading.set_starred(session, alice.id, [my_ids[1]])

        def ids_of(**query: object) -> list[int]:
            return sorted(_all(session, alice.id, StreamQuery(**query), limit=10))

        assert ids_of() == my_ids
        assert ids_of(read=True) == [my_ids[0]]
        assert ids_of(read=False) == my_ids[1:]
        assert ids_of(starred=True) == [my_ids[1]]
        assert ids_of(starred=False, read=False) == [my_ids[2]]
        assert ids_of(feed_ids=[theirs.id]) == []
        assert ids_of(without_feed_ids=[mine.id]) == []
        assert (
            streams.items_with_ids(session, alice.id, [my_ids[0], 10**18, -1])[0].item.id
            == my_ids[0]
        )
        assert streams.items_with_ids(session, bob.id, my_ids) == []


def test_since_and_until_bound_the_arrival_not_the_sort_time(db: Database, plan: str) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        (old_date,) = _items(session, feed.id, [BASE - timedelta(days=365)])
        subscribe(session, user.id, feed.id, unread_recent=100)
        arrived = streams.items_with_ids(session, user.id, [old_date])[0].first_seen_at
        since = StreamQuery(since=arrived - timedelta(seconds=1))
        assert _all(session, user.id, since, limit=10) == [old_date]
        until = StreamQuery(until=arrived - timedelta(seconds=1))
        assert _all(session, user.id, until, limit=10) == []


def test_newest_per_feed_is_the_latest_sort_time_of_each_followed_feed(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        feed, empty = (
            add_feed(session, "https://a.example/f"),
            add_feed(session, "https://b.example/f"),
        )
        _items(session, feed.id, [BASE, BASE + timedelta(hours=3)])
        subscribe(session, user.id, feed.id, unread_recent=100)
        subscribe(session, user.id, empty.id, unread_recent=100)
        assert streams.newest_per_feed(session, user.id) == {feed.id: BASE + timedelta(hours=3)}


def test_a_page_without_content_leaves_the_html_out(db: Database, plan: str) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        _items(session, feed.id, [BASE])
        session.execute(update(Item).values(content_html="<p>x</p>", summary_html="<p>s</p>"))
        subscribe(session, user.id, feed.id, unread_recent=100)
        bare = (
            streams.stream_page(session, user.id, StreamQuery(), None, limit=5, with_content=False)
            .rows[0]
            .item
        )
        full = streams.stream_page(session, user.id, StreamQuery(), None, limit=5).rows[0].item
    assert (bare.content_html, bare.summary_html) == (None, None)
    assert (full.content_html, full.summary_html) == ("<p>x</p>", "<p>s</p>")

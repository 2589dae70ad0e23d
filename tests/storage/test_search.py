"""Full-text search: the person's items only, ranked, highlighted safely, paged."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.storage import search as search_module
from app.storage.db import Database
from app.storage.models import Item
from app.storage.reading import Filters
from app.storage.search import search
from tests.conftest import add_user
from tests.storage.rows import add_feed, subscribe


def _item(session: Session, feed_id: int, key: str, title: str, content: str) -> int:
    return session.scalar(
        insert(Item)
        .values(feed_id=feed_id, key=key, title=title, content_html=content, content_hash="h")
        .returning(Item.id)
    )


def test_search_finds_stemmed_words_ranks_titles_first_and_highlights(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        in_body = _item(session, feed.id, "a", "Weather", "<p>The <b>cats</b> were sleeping</p>")
        in_title = _item(session, feed.id, "b", "Cat pictures", "<p>Many of them</p>")
        _item(session, feed.id, "c", "Dogs", "<p>Only dogs here</p>")
        subscribe(session, user.id, feed.id, unread_recent=10)
        session.commit()
        page = search(session, user.id, "cat", Filters())
    assert [item.id for item in page.rows] == [in_title, in_body]
    assert page.rows[0].title_html == "<mark>Cat</mark> pictures"
    assert "<mark>cats</mark>" in (page.rows[1].snippet_html or "")
    assert page.rows[0].rank and page.rows[0].rank > page.rows[1].rank


def test_search_never_returns_another_persons_items(db: Database) -> None:
    user, other = add_user(db), add_user(db, "other")
    with db.session() as session:
        feed = add_feed(session)
        _item(session, feed.id, "a", "Secret plans", "<p>secret</p>")
        subscribe(session, other.id, feed.id, unread_recent=10)
        session.commit()
        assert search(session, user.id, "secret", Filters()).rows == []
        assert len(search(session, other.id, "secret", Filters()).rows) == 1


def test_snippets_escape_the_items_text(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        _item(session, feed.id, "a", "x", "<p>kittens &lt;script&gt;alert(1)&lt;/script&gt;</p>")
        subscribe(session, user.id, feed.id, unread_recent=10)
        session.commit()
        (found,) = search(session, user.id, "kittens", Filters()).rows
    assert "<script>" not in (found.snippet_html or "")
    assert "&lt;script&gt;" in (found.snippet_html or "")


def test_search_pages_by_rank_without_skipping_or_repeating(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        ids = {
            _item(session, feed.id, f"k{n}", f"topic {'topic ' * (n % 3)}", "<p>topic</p>")
            for n in range(12)
        }
        subscribe(session, user.id, feed.id, unread_recent=100)
        session.commit()
        seen: list[int] = []
        cursor = None
        while True:
            page = search(session, user.id, "topic", Filters(), cursor, limit=5)
            seen += [item.id for item in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


def test_a_query_of_stop_words_only_matches_nothing(db: Database) -> None:
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        _item(session, feed.id, "a", "the and of", "<p>the</p>")
        subscribe(session, user.id, feed.id, unread_recent=10)
        session.commit()
        assert search(session, user.id, "the", Filters()).rows == []


def test_search_ranks_only_the_newest_matches_of_the_window(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "RANK_WINDOW", 3)
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        best_but_oldest = _item(session, feed.id, "old", "topic topic topic", "<p>topic</p>")
        newer = [_item(session, feed.id, f"k{n}", "x", "<p>topic</p>") for n in range(4)]
        subscribe(session, user.id, feed.id, unread_recent=100)
        session.commit()
        found = [item.id for item in search(session, user.id, "topic", Filters()).rows]
    assert best_but_oldest not in found
    assert sorted(found) == newer[1:]


def test_search_pages_skip_nothing_and_repeat_nothing_while_items_arrive(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "RANK_WINDOW", 4)
    user = add_user(db)
    with db.session() as session:
        feed = add_feed(session)
        ids = [_item(session, feed.id, f"k{n}", "x", "<p>topic</p>") for n in range(6)]
        subscribe(session, user.id, feed.id, unread_recent=100)
        session.commit()
        first = search(session, user.id, "topic", Filters(), limit=2)
        # A new match would push the oldest of the window out if later pages looked again.
        arrived = _item(session, feed.id, "new", "x", "<p>topic</p>")
        session.commit()
        second = search(session, user.id, "topic", Filters(), first.next_cursor, limit=2)
    assert [item.id for item in first.rows + second.rows] == ids[:1:-1]
    assert arrived not in [item.id for item in second.rows]
    assert second.next_cursor is None

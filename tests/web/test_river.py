"""The reader's pages: the river (home page), search, one item, mark all read."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app.storage.db import Database
from app.storage.subscriptions import ensure_folder, update_subscription
from tests.conftest import add_feed_with_items, add_user, signed_in


def _folder(db: Database, feed_id: int, name: str, username: str = "reader") -> int:
    user = add_user(db, username)
    with db.session() as session:
        folder_id = ensure_folder(session, user.id, name, None)
        update_subscription(session, user.id, feed_id, {"folder_id": folder_id})
        session.commit()
    return folder_id


def _entry_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="entry[^"]*" data-id="(\d+)"', html)]


def test_the_river_is_the_home_page_newest_first(client: FlaskClient, db: Database) -> None:
    _, ids = add_feed_with_items(db, "https://a.example/", 3, "alpha")
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _entry_ids(html) == ids[::-1]
    assert 'data-feed-count="' in html and ">3</span>" in html  # the sidebar's unread count


def test_the_feed_list_moved_to_feeds(client: FlaskClient, db: Database) -> None:
    add_feed_with_items(db, "https://a.example/", 1, "alpha")
    html = client.get("/feeds").get_data(as_text=True)
    assert "Follow a feed" in html and "alpha" in html


def test_more_pages_neither_skip_nor_repeat(client: FlaskClient, db: Database) -> None:
    _, ids = add_feed_with_items(db, "https://a.example/", 7)
    seen, url = [], "/?limit=3"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += _entry_ids(html)
        found = re.search(r'id="more" class="[^"]*" rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == ids[::-1]


def test_the_list_partial_holds_only_entries_and_more(client: FlaskClient, db: Database) -> None:
    add_feed_with_items(db, "https://a.example/", 4)
    html = client.get("/?limit=2&partial=list").get_data(as_text=True)
    assert len(_entry_ids(html)) == 2 and 'id="more"' in html and "<html" not in html


def test_filters_by_feed_folder_unread_and_starred(client: FlaskClient, db: Database) -> None:
    feed_a, ids_a = add_feed_with_items(db, "https://a.example/", 2, "alpha")
    feed_b, ids_b = add_feed_with_items(db, "https://b.example/", 2, "beta")
    folder_id = _folder(db, feed_b, "Garden")
    client.put(f"/api/items/{ids_a[0]}/read")
    client.put(f"/api/items/{ids_b[0]}/star")
    assert _entry_ids(client.get(f"/?feed_id={feed_a}").get_data(as_text=True)) == ids_a[::-1]
    folder_page = client.get(f"/?folder_id={folder_id}").get_data(as_text=True)
    assert _entry_ids(folder_page) == ids_b[::-1] and "<h1" in folder_page
    assert re.search(r'<h1 id="river-title">Garden</h1>', folder_page)
    unread = _entry_ids(client.get(f"/?feed_id={feed_a}&unread=1").get_data(as_text=True))
    assert unread == [ids_a[1]]
    assert _entry_ids(client.get("/?starred=1").get_data(as_text=True)) == [ids_b[0]]


def test_another_persons_feed_or_folder_is_a_404(app: Flask, db: Database) -> None:
    feed_id, item_ids = add_feed_with_items(db, "https://a.example/", 1, "secret", username="alice")
    folder_id = _folder(db, feed_id, "Private", username="alice")
    bob = signed_in(app, "bob")
    for url in (
        f"/?feed_id={feed_id}",
        f"/?folder_id={folder_id}",
        f"/search?q=gardening&feed_id={feed_id}",
        f"/search?q=gardening&folder_id={folder_id}",
        f"/items/{item_ids[0]}",
        f"/items/{item_ids[0]}?partial=pane",
    ):
        response = bob.get(url)
        assert response.status_code == 404, url
        assert "secret item" not in response.get_data(as_text=True)
    assert _entry_ids(bob.get("/search?q=gardening").get_data(as_text=True)) == []


def test_bad_filters_are_a_400_page(client: FlaskClient) -> None:
    for url in ("/?feed_id=x", "/?feed_id=1&folder_id=2", "/?limit=0", "/?cursor=nonsense"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 400, url
        assert "<html" in response.get_data(as_text=True)


def test_the_item_page_shows_the_whole_content_and_link(client: FlaskClient, db: Database) -> None:
    _, ids = add_feed_with_items(db, "https://a.example/", 1, "alpha")
    pane = client.get(f"/items/{ids[0]}?partial=pane").get_data(as_text=True)
    assert "whole body 0" in pane and "summary 0" not in pane
    assert 'href="https://alpha.example/0"' in pane and "<html" not in pane
    assert "whole body 0" in client.get(f"/items/{ids[0]}").get_data(as_text=True)


def test_search_shows_highlighted_hits_with_the_filters(client: FlaskClient, db: Database) -> None:
    feed_a, _ = add_feed_with_items(db, "https://a.example/", 2, "alpha")
    add_feed_with_items(db, "https://b.example/", 2, "beta")
    html = client.get(f"/search?q=gardening&feed_id={feed_a}").get_data(as_text=True)
    assert len(_entry_ids(html)) == 2
    assert "<mark>gardening</mark>" in html and "beta item" not in html


def test_search_with_a_too_long_query_is_a_400_page(client: FlaskClient) -> None:
    response = client.get("/search?q=" + "a" * 501)
    assert response.status_code == 400
    assert "Search for 1 to 500 characters" in response.get_data(as_text=True)


def test_mark_all_read_covers_the_scope_up_to_the_newest_shown(
    client: FlaskClient, db: Database
) -> None:
    feed_a, ids_a = add_feed_with_items(db, "https://a.example/", 3, "alpha")
    feed_b, ids_b = add_feed_with_items(db, "https://b.example/", 2, "beta")
    response = client.post("/river/mark-all-read", data={"feed_id": feed_a, "upto_id": ids_a[1]})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/?feed_id={feed_a}"
    counts = client.get("/api/counts").get_json()["feeds"]
    assert counts == {str(feed_a): 1, str(feed_b): 2}


def test_mark_all_read_of_another_persons_feed_is_a_404(app: Flask, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 2, "secret", username="alice")
    bob = signed_in(app, "bob")
    assert bob.post("/river/mark-all-read", data={"feed_id": feed_id}).status_code == 404
    alice = signed_in(app, "alice")
    assert alice.get("/api/counts").get_json()["total"] == 2

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import insert

from app.storage.db import Database
from app.storage.models import Feed, Item
from tests.conftest import follow


def _feed_with_items(db: Database, count: int) -> int:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as session:
        feed = Feed(url="https://example.com/feed", current_url="https://example.com/feed")
        session.add(feed)
        session.flush()
        rows = [
            {
                "feed_id": feed.id,
                "key": f"guid:{i}",
                "title": f"item {i}",
                "content_hash": "x",
                "published_at": base + timedelta(hours=i),
                # Two items share each timestamp: the id breaks ties.
                "sort_at": base + timedelta(hours=i // 2),
            }
            for i in range(count)
        ]
        if rows:
            session.execute(insert(Item), rows)
        session.commit()
    return follow(db, feed.id)


def test_unknown_fetch_is_404_json(client: FlaskClient) -> None:
    response = client.get(f"/fetches/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.get_json() == {
        "error": {"code": "fetch_not_found", "message": "There is no such fetch."}
    }


def test_malformed_fetch_id_is_404_json(client: FlaskClient) -> None:
    response = client.get("/fetches/not-a-uuid")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "fetch_not_found"


def test_unknown_feed_is_404_json(client: FlaskClient) -> None:
    for path in ("/api/feeds/12345", "/api/feeds/12345/items", "/api/feeds/99999999999999999999"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "feed_not_found"


def test_unknown_route_is_404_json_for_api_clients(client: FlaskClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_items_are_paginated_newest_first_without_gaps_or_repeats(
    client: FlaskClient, db: Database
) -> None:
    feed_id = _feed_with_items(db, 25)
    seen: list[str] = []
    url: str | None = f"/api/feeds/{feed_id}/items?limit=10"
    pages = 0
    while url:
        body = client.get(url).get_json()
        seen += [item["title"] for item in body["items"]]
        url = body["next_url"]
        pages += 1
    assert pages == 3
    assert len(seen) == 25 and len(set(seen)) == 25
    assert seen[0] in ("item 24", "item 23") and seen[-1] in ("item 0", "item 1")


def test_bad_cursor_is_400(client: FlaskClient, db: Database) -> None:
    feed_id = _feed_with_items(db, 1)
    response = client.get(f"/api/feeds/{feed_id}/items?cursor=%%%garbage")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_cursor"


def test_out_of_range_limit_is_400(client: FlaskClient, db: Database) -> None:
    feed_id = _feed_with_items(db, 1)
    for limit in ("0", "101", "-1", "ten"):
        response = client.get(f"/api/feeds/{feed_id}/items?limit={limit}")
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_limit"


def test_feed_list_shows_state_and_links(client: FlaskClient, db: Database) -> None:
    feed_id = _feed_with_items(db, 0)
    feeds = client.get("/api/feeds").get_json()["feeds"]
    assert [f["id"] for f in feeds] == [feed_id]
    assert feeds[0]["state"] == "new"
    assert feeds[0]["links"]["items"] == f"/api/feeds/{feed_id}/items"


def test_feed_list_paginates(client: FlaskClient, db: Database) -> None:
    with db.session() as session:
        feeds = [Feed(url=f"https://e.com/{i}", current_url=f"https://e.com/{i}") for i in range(5)]
        session.add_all(feeds)
        session.commit()
        for feed in feeds:
            follow(db, feed.id)
    first = client.get("/api/feeds?limit=3").get_json()
    second = client.get(first["next_url"]).get_json()
    assert len(first["feeds"]) == 3 and len(second["feeds"]) == 2
    assert second["next_cursor"] is None


def test_healthz_answers_ok(client: FlaskClient) -> None:
    assert client.get("/healthz").data == b"ok\n"


def test_unknown_page_is_a_readable_html_404_for_browsers(client: FlaskClient) -> None:
    response = client.get("/feeds/424242", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert b"<html" in response.data and b"There is no feed 424242" in response.data

"""The reader's JSON API: subscriptions, folders, river, search, read state, stars, counts."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient

from app.storage.db import Database
from app.storage.models import Feed
from tests.conftest import add_feed_with_items, follow


def test_the_river_pages_newest_first_with_next_url(client: FlaskClient, db: Database) -> None:
    _, ids = add_feed_with_items(db, "https://a.example/", 7)
    first = client.get("/api/items?limit=5").get_json()
    second = client.get(first["next_url"]).get_json()
    got = [i["id"] for i in first["items"] + second["items"]]
    assert got == ids[::-1] and second["next_cursor"] is None
    assert first["items"][0]["content_html"] and first["items"][0]["read"] is False


def test_mark_read_star_and_filters(client: FlaskClient, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/", 3)
    assert client.put(f"/api/items/{ids[0]}/read").get_json()["item"]["read"] is True
    assert client.put(f"/api/items/{ids[1]}/star").get_json()["item"]["starred"] is True
    unread = client.get("/api/items?unread=true").get_json()["items"]
    starred = client.get("/api/items?starred=true").get_json()["items"]
    assert [i["id"] for i in unread] == [ids[2], ids[1]]
    assert [i["id"] for i in starred] == [ids[1]]
    assert client.get("/api/counts").get_json() == {
        "total": 2,
        "feeds": {str(feed_id): 2},
        "folders": {},
    }
    assert client.delete(f"/api/items/{ids[0]}/read").get_json()["item"]["read"] is False


def test_bulk_marks_answer_the_ids_that_were_the_persons(
    client: FlaskClient, db: Database
) -> None:
    _, ids = add_feed_with_items(db, "https://a.example/", 2)
    response = client.post("/api/items/read", json={"ids": [*ids, 999999], "read": True})
    assert response.get_json() == {"ids": sorted(ids)}
    assert client.post("/api/items/star", json={"ids": []}).status_code == 400


def test_mark_all_read_of_a_folder_leaves_other_feeds_unread(
    client: FlaskClient, db: Database
) -> None:
    a, _ = add_feed_with_items(db, "https://a.example/", 3)
    b, _ = add_feed_with_items(db, "https://b.example/", 2)
    folder = client.post("/api/folders", json={"name": "News"}).get_json()["folder"]["id"]
    assert client.patch(f"/api/subscriptions/{a}", json={"folder_id": folder}).status_code == 200
    assert client.get("/api/counts").get_json()["folders"] == {str(folder): 3}
    response = client.post("/api/mark-all-read", json={"folder_id": folder})
    assert response.get_json() == {"subscriptions": 1}
    assert client.get("/api/counts").get_json()["feeds"] == {str(a): 0, str(b): 2}


def test_mark_all_read_older_than_needs_an_offset(client: FlaskClient, db: Database) -> None:
    add_feed_with_items(db, "https://a.example/", 3)
    bad = client.post("/api/mark-all-read", json={"older_than": "2026-01-01T01:30:00"})
    assert bad.status_code == 400
    ok = client.post("/api/mark-all-read", json={"older_than": "2026-01-01T01:30:00+00:00"})
    assert ok.status_code == 200
    assert client.get("/api/counts").get_json()["total"] == 1


def test_mark_all_read_older_than_takes_any_offset_python_reads(
    client: FlaskClient, db: Database
) -> None:
    # Postgres refuses offsets past 15:59; the API hands it UTC.
    add_feed_with_items(db, "https://far.example/feed", 2)
    response = client.post(
        "/api/mark-all-read", json={"older_than": "1920-03-11T12:29:16+19:56"}
    )
    assert response.status_code == 200, response.get_json()


def test_subscriptions_list_renames_and_unsubscribes(client: FlaskClient, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 2, title="Original")
    (sub,) = client.get("/api/subscriptions").get_json()["subscriptions"]
    assert (sub["title"], sub["unread"]) == ("Original", 2)
    client.patch(f"/api/subscriptions/{feed_id}", json={"title": "Mine"})
    assert client.get("/api/subscriptions").get_json()["subscriptions"][0]["title"] == "Mine"
    assert client.delete(f"/api/subscriptions/{feed_id}").status_code == 204
    assert client.get("/api/subscriptions").get_json()["subscriptions"] == []
    assert client.get(f"/api/feeds/{feed_id}").status_code == 404


def test_folders_nest_rename_and_delete(client: FlaskClient, db: Database) -> None:
    top = client.post("/api/folders", json={"name": "Top"}).get_json()["folder"]["id"]
    inner = client.post("/api/folders", json={"name": "In", "parent_id": top}).get_json()
    assert client.patch(f"/api/folders/{top}", json={"name": "Renamed"}).status_code == 200
    folders = client.get("/api/folders").get_json()["folders"]
    assert {(f["name"], f["parent_id"]) for f in folders} == {("Renamed", None), ("In", top)}
    assert client.delete(f"/api/folders/{top}").status_code == 204
    assert client.get("/api/folders").get_json()["folders"] == []
    assert inner["folder"]["id"] != top


def test_search_is_ranked_highlighted_and_filtered(client: FlaskClient, db: Database) -> None:
    a, _ = add_feed_with_items(db, "https://a.example/", 2, title="Roses")
    add_feed_with_items(db, "https://b.example/", 2, title="Tulips")
    results = client.get(f"/api/search?q=roses&feed_id={a}").get_json()["items"]
    assert len(results) == 2 and all("<mark>Roses</mark>" in r["title_html"] for r in results)
    everything = client.get("/api/search?q=gardening").get_json()["items"]
    assert len(everything) == 4 and "<mark>gardening</mark>" in everything[0]["snippet_html"]


def test_bad_parameters_are_400_never_500(client: FlaskClient, db: Database) -> None:
    for url in (
        "/api/items?limit=0",
        "/api/items?feed_id=abc",
        "/api/items?unread=maybe",
        "/api/items?cursor=%%%",
        "/api/items?feed_id=1&folder_id=1",
        "/api/search?q=",
        "/api/search?q=" + "x" * 501,
    ):
        assert client.get(url).status_code == 400, url
    assert client.post("/api/folders", json={"name": "\u0000"}).status_code == 400
    assert client.post("/api/folders", json={"name": "\ud800"}).status_code == 400
    assert client.post("/api/mark-all-read", data="x").status_code == 400


def test_post_feeds_subscribes_and_a_fresh_feed_answers_at_once(
    client: FlaskClient, db: Database
) -> None:
    from app.storage.models import Fetch, FetchState, FetchTrigger

    with db.session() as session:
        feed = Feed(url="https://fresh.example/", current_url="https://fresh.example/")
        feed.last_success_at = datetime.now(UTC)
        session.add(feed)
        session.flush()
        done = Fetch(
            feed_id=feed.id,
            trigger=FetchTrigger.REFRESH,
            state=FetchState.SUCCEEDED,
            finished_at=datetime.now(UTC),
        )
        session.add(done)
        session.commit()
        feed_id, fetch_id = feed.id, done.id
    follow(db, feed_id, "someone else")
    response = client.post("/feeds", json={"url": "https://fresh.example/"})
    assert response.status_code == 202
    assert response.headers["Location"] == f"/fetches/{fetch_id}"
    assert response.get_json()["fetch"]["state"] == "succeeded"
    assert response.get_json()["created"] is False
    assert [s["feed_id"] for s in client.get("/api/subscriptions").get_json()["subscriptions"]] == [
        feed_id
    ]

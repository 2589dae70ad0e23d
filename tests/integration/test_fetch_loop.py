"""The whole loop: submit over HTTP, a real worker process fetches from a real
local HTTP server, items land in Postgres, the status endpoint reports it."""

from __future__ import annotations

import socket
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from app.storage.db import Database
from app.storage.models import Feed, Item
from tests.feedserver import FeedServer


def _submit(client: FlaskClient, url: str) -> dict:
    response = client.post("/feeds", json={"url": url})
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _titles(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(t or "" for t in session.scalars(select(Item.title)))


def test_rss_feed_is_fetched_and_its_items_stored(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    url = feed_server.add_fixture("/rss.xml", "example-rss20.xml")
    submitted = _submit(client, url)
    run_worker_burst()

    status = client.get(submitted["status_url"])
    body = status.get_json()
    assert body["state"] == "succeeded"
    assert body["items_new"] == 3 and body["items_updated"] == 0
    assert body["http_status"] == 200
    assert body["items_url"] == f"/api/feeds/{body['feed_id']}/items"
    assert "Retry-After" not in status.headers
    assert _titles(db) == ["First post", "Second post", "Third post"]
    with db.session() as session:
        feed = session.scalars(select(Feed)).one()
        assert feed.title == "Example RSS" and feed.state.value == "active"
        assert feed.item_count == 3 and feed.next_fetch_at is not None


def test_atom_feed_is_fetched_and_its_items_stored(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    url = feed_server.add_fixture(
        "/atom.xml", "example-atom10.xml", content_type="application/atom+xml"
    )
    submitted = _submit(client, url)
    run_worker_burst()
    body = client.get(submitted["status_url"]).get_json()
    assert body["state"] == "succeeded" and body["items_new"] == 2
    items = client.get(body["items_url"]).get_json()["items"]
    assert [i["title"] for i in items] == ["Atom entry one", "Atom entry two"]
    assert items[1]["published_at"] is None or items[1]["updated_at"].startswith("2026-11-03T07:00")


def test_fetching_the_same_feed_twice_never_duplicates_items(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    url = feed_server.add_fixture("/rss.xml", "example-rss20.xml")
    first = _submit(client, url)
    run_worker_burst()
    refresh = client.post(f"/feeds/{first['fetch']['feed_id']}/refresh", json={})
    assert refresh.status_code == 202
    assert refresh.get_json()["fetch"]["id"] != first["fetch"]["id"]
    run_worker_burst()
    body = client.get(refresh.get_json()["status_url"]).get_json()
    assert body["state"] == "succeeded"
    assert body["items_new"] == 0 and body["items_updated"] == 0
    assert len(_titles(db)) == 3


def test_missing_feed_fails_with_http_404(
    client: FlaskClient, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    submitted = _submit(client, feed_server.url("/missing.xml"))
    run_worker_burst()
    body = client.get(submitted["status_url"]).get_json()
    assert body["state"] == "failed"
    assert body["error"]["code"] == "http_404"
    assert body["error"]["message"]


def test_page_that_is_not_a_feed_fails_with_not_a_feed(
    client: FlaskClient, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    url = feed_server.add(
        "/page",
        "<html><head><title>x</title></head><body>hi</body></html>",
        content_type="text/html",
    )
    submitted = _submit(client, url)
    run_worker_burst()
    body = client.get(submitted["status_url"]).get_json()
    assert body["state"] == "failed" and body["error"]["code"] == "not_a_feed"


def test_refused_connection_fails_with_connection_error(
    client: FlaskClient, run_worker_burst: Callable
) -> None:
    # A loopback port just freed: nothing listens there (and it is one FETCH_ALLOWED_PORTS allows).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    submitted = _submit(client, f"http://127.0.0.1:{port}/feed.xml")
    run_worker_burst()
    body = client.get(submitted["status_url"]).get_json()
    assert body["state"] == "failed" and body["error"]["code"] == "connection_error"


def test_slow_server_fails_with_timeout(
    client: FlaskClient, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    url = feed_server.add_fixture("/slow.xml", "example-rss20.xml", delay=4)
    submitted = _submit(client, url)
    run_worker_burst(FETCH_READ_TIMEOUT="1", FETCH_DEADLINE="2")
    body = client.get(submitted["status_url"]).get_json()
    assert body["state"] == "failed" and body["error"]["code"] == "timeout"


def test_failed_fetch_is_recorded_on_the_feed(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    _submit(client, feed_server.url("/missing.xml"))
    run_worker_burst()
    feed = client.get("/api/feeds").get_json()["feeds"][0]
    assert feed["state"] == "error"
    assert feed["error_count"] == 1
    assert feed["last_error"]["code"] == "http_404"

"""What a fetch's HTTP outcome does to the stored feed (real worker, real local server)."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from app.storage.db import Database
from app.storage.models import Feed, FeedState, Item
from tests.feedserver import FIXTURES, FeedServer, Request, Response

RSS = (FIXTURES / "example-rss20.xml").read_bytes()
XML = {"Content-Type": "application/rss+xml"}


def _submit(client: FlaskClient, url: str) -> dict:
    response = client.post("/feeds", json={"url": url})
    assert response.status_code == 202
    return response.get_json()


def _refresh(client: FlaskClient, feed_id: int) -> dict:
    response = client.post(f"/feeds/{feed_id}/refresh", json={})
    assert response.status_code == 202
    return response.get_json()


def _feed(db: Database) -> Feed:
    with db.session() as session:
        return session.scalars(select(Feed)).one()


def test_etag_is_stored_and_sent_back_and_304_skips_parsing(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    def conditional(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(
            200, RSS, {**XML, "ETag": '"v1"', "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"}
        )

    first = _submit(client, feed_server.route("/c.xml", conditional))
    run_worker_burst()
    assert _feed(db).etag == '"v1"'
    second = _refresh(client, first["fetch"]["feed_id"])
    run_worker_burst()
    body = client.get(second["status_url"]).get_json()
    assert body["state"] == "succeeded"
    assert body["http_status"] == 304 and body["not_modified"] is True
    assert feed_server.requests[-1].headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"
    feed = _feed(db)
    assert feed.etag == '"v1"' and feed.item_count == 3


def test_unchanged_body_without_validators_is_not_parsed_again(
    client: FlaskClient, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    first = _submit(client, feed_server.add("/same.xml", RSS))
    run_worker_burst()
    second = _refresh(client, first["fetch"]["feed_id"])
    run_worker_burst()
    body = client.get(second["status_url"]).get_json()
    assert body["http_status"] == 200 and body["not_modified"] is True


def test_permanent_redirect_updates_the_feeds_current_url(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    new_url = feed_server.add("/new.xml", RSS)
    old_url = feed_server.route("/old.xml", lambda _r: Response(301, b"", {"Location": new_url}))
    _submit(client, old_url)
    run_worker_burst()
    feed = _feed(db)
    assert feed.url == old_url and feed.current_url == new_url


def test_temporary_redirect_keeps_the_feeds_url(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    target = feed_server.add("/elsewhere.xml", RSS)
    url = feed_server.route("/tmp.xml", lambda _r: Response(302, b"", {"Location": target}))
    _submit(client, url)
    run_worker_burst()
    assert _feed(db).current_url == url
    assert _feed(db).item_count == 3


def test_410_marks_the_feed_gone_and_stops_its_refreshes(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    _submit(client, feed_server.add("/gone.xml", b"gone", status=410, content_type="text/plain"))
    run_worker_burst()
    feed = _feed(db)
    assert feed.state == FeedState.GONE
    assert feed.next_fetch_at is None
    assert feed.last_error_code == "http_410"


def test_changed_items_are_updated_and_unchanged_ones_untouched(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    version = {"body": RSS}
    url = feed_server.route("/live.xml", lambda _r: Response(200, version["body"], XML))
    first = _submit(client, url)
    run_worker_burst()
    with db.session() as session:
        before = {i.key: (i.id, i.changed_at) for i in session.scalars(select(Item))}
    version["body"] = RSS.replace(b"Second body", b"Second body, corrected")
    second = _refresh(client, first["fetch"]["feed_id"])
    run_worker_burst()
    body = client.get(second["status_url"]).get_json()
    assert (body["items_new"], body["items_updated"]) == (0, 1)
    with db.session() as session:
        after = {i.key: (i.id, i.changed_at, i.summary_html) for i in session.scalars(select(Item))}
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    changed = [k for k in after if after[k][1] != before[k][1]]
    assert changed == ["guid:post-2"]
    assert "corrected" in (after["guid:post-2"][2] or "")


def test_html_page_is_replaced_by_the_feed_it_links_to(
    client: FlaskClient, db: Database, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    feed_url = feed_server.add("/discovered.xml", RSS)
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/discovered.xml">'
        "</head><body>blog</body></html>"
    )
    submitted = _submit(client, feed_server.add("/blog", page, content_type="text/html"))
    run_worker_burst()
    body = client.get(submitted["status_url"]).get_json()
    assert body["state"] == "succeeded" and body["discovered_url"] == feed_url
    assert _feed(db).current_url == feed_url

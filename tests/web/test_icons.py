"""GET /feeds/<id>/icon and the icons the pages show (app/web/icons.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from app.storage.db import Database
from app.storage.icons import save_icon
from tests.conftest import add_feed_with_items, signed_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 30
SHA = "ab" * 32
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _with_icon(db: Database, feed_id: int, body: bytes = PNG, kind: str = "image/png") -> None:
    with db.session() as session:
        found = ("https://a.example/i.png", kind, body, SHA)
        save_icon(session, feed_id, declared_url=None, now=NOW, found=found)
        session.commit()


def test_a_followed_feeds_icon_is_served_with_its_sniffed_type_and_etag(
    client: FlaskClient, db: Database
) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 1)
    _with_icon(db, feed_id)
    response = client.get(f"/feeds/{feed_id}/icon")
    assert response.status_code == 200 and response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["ETag"] == f'"{SHA}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_the_versioned_url_is_cached_for_long(client: FlaskClient, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 1)
    _with_icon(db, feed_id)
    response = client.get(f"/feeds/{feed_id}/icon?v={SHA[:16]}")
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"


def test_a_matching_etag_gets_304(client: FlaskClient, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 1)
    _with_icon(db, feed_id)
    response = client.get(f"/feeds/{feed_id}/icon", headers={"If-None-Match": f'"{SHA}"'})
    assert response.status_code == 304 and response.data == b""


def test_a_feed_without_an_icon_gets_the_default_one(client: FlaskClient, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 1)
    response = client.get(f"/feeds/{feed_id}/icon")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "private, max-age=3600"


def test_another_persons_feed_icon_is_a_404(app: Flask, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/", 1, username="alice")
    _with_icon(db, feed_id)
    response = signed_in(app, "bob").get(f"/feeds/{feed_id}/icon")
    assert response.status_code == 404 and PNG not in response.data
    anonymous = app.test_client().get(f"/feeds/{feed_id}/icon")
    assert anonymous.status_code == 303 and PNG not in anonymous.data  # to the sign-in page


def test_the_sidebar_river_and_feed_list_show_the_icon_or_the_default(
    client: FlaskClient, db: Database
) -> None:
    with_icon, _ = add_feed_with_items(db, "https://a.example/", 1, "alpha")
    without_icon, _ = add_feed_with_items(db, "https://b.example/", 1, "beta")
    _with_icon(db, with_icon)
    versioned = f"/feeds/{with_icon}/icon?v={SHA[:16]}"
    river = client.get("/").get_data(as_text=True)
    icons = re.findall(r'<img class="feed-icon" src="([^"]+)"', river)
    # Sidebar and river row for each feed: two of each kind.
    assert icons.count(versioned) == 2
    assert sum(1 for src in icons if src.startswith("/static/feed-icon.svg")) == 2
    feeds = client.get("/feeds").get_data(as_text=True)
    assert versioned in feeds
    assert f"/feeds/{without_icon}/icon" not in feeds


def test_the_reading_pane_shows_the_feed_icon(client: FlaskClient, db: Database) -> None:
    feed_id, item_ids = add_feed_with_items(db, "https://a.example/", 1)
    _with_icon(db, feed_id)
    pane = client.get(f"/items/{item_ids[0]}?partial=pane").get_data(as_text=True)
    assert f'src="/feeds/{feed_id}/icon?v={SHA[:16]}"' in pane

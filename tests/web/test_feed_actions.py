"""Pause, resume and delete from the feed page (web/feed_actions.py, storage/feeds.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger, Item, User
from tests.conftest import add_user, follow, signed_in

HTML = {"Accept": "text/html"}


def _feed(db: Database, **values: object) -> int:
    with db.session() as session:
        feed = Feed(url="https://example.com/feed", current_url="https://example.com/feed")
        for key, value in values.items():
            setattr(feed, key, value)
        session.add(feed)
        session.commit()
    return follow(db, feed.id)


@pytest.fixture
def user(db: Database) -> User:
    """Feed actions change a shared feed: the signed-in person is an admin."""
    return add_user(db, "reader", is_admin=True)


def _get(db: Database, feed_id: int) -> Feed | None:
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        if feed is not None:
            session.expunge(feed)
        return feed


@pytest.fixture
def csrf_client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    """A client of an app with CSRF protection on, as in production."""
    app = create_app(settings)
    app.config.update(TESTING=True)
    yield signed_in(app, is_admin=True)
    feedqueue.of(app).close()


def _token(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pause_stops_refreshes(client: FlaskClient, db: Database) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    feed_id = _feed(db, state=FeedState.ACTIVE, next_fetch_at=soon)
    response = client.post(f"/feeds/{feed_id}/pause", headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/feeds/{feed_id}"
    feed = _get(db, feed_id)
    assert feed.state == FeedState.PAUSED and feed.next_fetch_at is None


def test_paused_feed_page_offers_resume(client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db, state=FeedState.PAUSED)
    html = client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    assert f'action="/feeds/{feed_id}/resume"' in html
    assert f'action="/feeds/{feed_id}/pause"' not in html


def test_resume_makes_the_feed_due_now_with_a_clean_error_count(
    client: FlaskClient, db: Database
) -> None:
    feed_id = _feed(db, state=FeedState.PAUSED, error_count=7)
    before = datetime.now(UTC)
    assert client.post(f"/feeds/{feed_id}/resume", headers=HTML).status_code == 303
    feed = _get(db, feed_id)
    assert feed.state == FeedState.ACTIVE
    assert feed.error_count == 0
    assert before - timedelta(seconds=5) <= feed.next_fetch_at <= datetime.now(UTC)


@pytest.fixture
def admin_client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    """A client signed in as an admin (CSRF off, as in `client`)."""
    app = create_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield signed_in(app, "admin", is_admin=True)
    feedqueue.of(app).close()


ADMIN = HTML


def test_delete_removes_the_feed_with_its_items_and_fetches(
    admin_client: FlaskClient, db: Database
) -> None:
    feed_id = _feed(db)
    with db.session() as session:
        session.add(Item(feed_id=feed_id, key="k", content_hash="h"))
        session.add(Fetch(feed_id=feed_id, trigger=FetchTrigger.SUBMITTED, state=FetchState.FAILED))
        session.commit()
    response = admin_client.post(f"/feeds/{feed_id}/delete", headers=ADMIN)
    assert response.status_code == 303 and response.headers["Location"] == "/feeds"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
        assert session.scalar(select(func.count()).select_from(Fetch)) == 0
    assert _get(db, feed_id) is None


def test_feed_actions_are_refused_to_a_person_who_is_not_an_admin(
    app: Flask, db: Database
) -> None:
    feed_id = follow(db, _feed(db), "someone")
    client = signed_in(app, "someone")
    for action in ("pause", "resume", "delete"):
        assert client.post(f"/feeds/{feed_id}/{action}", headers=HTML).status_code == 403
    page = client.get(f"/feeds/{feed_id}", headers=HTML).data
    assert b"Delete</button>" not in page and b"Pause refreshes" not in page
    assert _get(db, feed_id) is not None


def test_actions_on_an_unknown_feed_are_404(client: FlaskClient, db: Database) -> None:
    for action in ("pause", "resume", "delete"):
        assert client.post(f"/feeds/42/{action}", headers=HTML).status_code == 404


def test_actions_answer_json_clients_with_the_feed(client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db)
    response = client.post(f"/feeds/{feed_id}/pause", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.get_json()["feed"]["state"] == "paused"


def test_actions_need_the_csrf_token(csrf_client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db)
    response = csrf_client.post(f"/feeds/{feed_id}/delete", headers=HTML)
    assert response.status_code == 400
    assert _get(db, feed_id) is not None


def test_actions_with_the_page_token_succeed(csrf_client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db)
    token = _token(csrf_client, f"/feeds/{feed_id}")
    response = csrf_client.post(f"/feeds/{feed_id}/pause", data={"csrf_token": token}, headers=HTML)
    assert response.status_code == 303
    assert _get(db, feed_id).state == FeedState.PAUSED
    page = csrf_client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    assert "Refreshes are paused" in page

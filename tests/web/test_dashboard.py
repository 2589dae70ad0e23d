"""The status dashboard and its admin actions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger
from tests.conftest import follow, signed_in

HTML = {"Accept": "text/html"}



@pytest.fixture
def admin_client(settings: Settings, db: Database, redis: Redis) -> Iterator[FlaskClient]:
    app = create_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield signed_in(app, "admin", is_admin=True)
    feedqueue.of(app).close()


def _failed_feed(db: Database, url: str, code: str) -> int:
    with db.session() as session:
        feed = Feed(url=url, current_url=url, state=FeedState.ERROR, last_error_code=code)
        session.add(feed)
        session.flush()
        now = datetime.now(UTC)
        session.add(
            Fetch(
                feed_id=feed.id,
                trigger=FetchTrigger.REFRESH,
                state=FetchState.FAILED,
                created_at=now - timedelta(seconds=3),
                finished_at=now,
                error_code=code,
                error_message=f"failed with {code}",
            )
        )
        session.commit()
    return follow(db, feed.id)


def _pending(db: Database) -> int:
    with db.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Fetch).where(Fetch.state == FetchState.QUEUED)
            )
            or 0
        )


def test_status_page_shows_queue_depths_and_failures_by_code(
    admin_client: FlaskClient, db: Database, redis: Redis
) -> None:
    client = admin_client
    client.post("/feeds", json={"url": "https://example.com/a"})
    client.post("/feeds", json={"url": "https://example.com/b"})
    _failed_feed(db, "https://c.example/", "http_404")
    html = client.get("/status").get_data(as_text=True)
    row = re.search(r"<td>feedqueue-test-submissions</td><td class=\"num\">(\d+)</td>", html)
    assert row and row.group(1) == "2"
    assert "<code>http_404</code>" in html and "failed with http_404" in html
    assert html.count('<svg class="chart"') == 2


def test_status_page_says_when_no_worker_runs(admin_client: FlaskClient, db: Database) -> None:
    assert "No worker is running" in admin_client.get("/status").get_data(as_text=True)


def test_status_page_is_for_admins_only(client: FlaskClient, db: Database) -> None:
    _failed_feed(db, "https://c.example/", "timeout")
    response = client.get("/status", headers=HTML)
    assert response.status_code == 403
    assert "/status/requeue" not in response.get_data(as_text=True)


def test_admin_actions_are_refused_to_a_person_who_is_not_an_admin(
    client: FlaskClient, db: Database
) -> None:
    assert client.post("/status/requeue", data={"code": "x"}, headers=HTML).status_code == 403
    assert client.post("/status/resume-paused", headers=HTML).status_code == 403


def test_admin_actions_send_an_anonymous_browser_to_sign_in(
    anon_client: FlaskClient, db: Database
) -> None:
    response = anon_client.post("/status/requeue", data={"code": "timeout"}, headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/signin")


def test_requeue_creates_new_fetches_for_feeds_failing_with_the_code(
    admin_client: FlaskClient, db: Database, redis: Redis
) -> None:
    _failed_feed(db, "https://a.example/", "timeout")
    _failed_feed(db, "https://b.example/", "timeout")
    _failed_feed(db, "https://c.example/", "http_404")
    response = admin_client.post("/status/requeue", data={"code": "timeout"}, headers=HTML)
    assert response.status_code == 303
    assert _pending(db) == 2
    assert redis.llen("rq:queue:feedqueue-test-submissions") == 2
    page = admin_client.get("/status", headers=HTML).get_data(as_text=True)
    assert "Requeued 2 feeds that failed with timeout." in page


def test_requeue_without_a_code_is_a_bad_request(admin_client: FlaskClient, db: Database) -> None:
    assert admin_client.post("/status/requeue", data={}, headers=HTML).status_code == 400


def test_resume_paused_resumes_every_paused_feed(admin_client: FlaskClient, db: Database) -> None:
    with db.session() as session:
        for n in range(3):
            state = FeedState.PAUSED if n < 2 else FeedState.GONE
            session.add(Feed(url=f"https://{n}.example/", current_url="x", state=state))
        session.commit()
    assert admin_client.post("/status/resume-paused", headers=HTML).status_code == 303
    with db.session() as session:
        states = sorted(s.value for s in session.scalars(select(Feed.state)))
    assert states == ["active", "active", "gone"]


def test_status_page_offers_admin_actions_when_configured(
    admin_client: FlaskClient, db: Database
) -> None:
    _failed_feed(db, "https://c.example/", "timeout")
    html = admin_client.get("/status").get_data(as_text=True)
    assert 'action="/status/requeue"' in html and 'value="timeout"' in html

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import Feed, Fetch
from tests.conftest import signed_in

JSON = {"Accept": "application/json"}


@pytest.fixture
def make_limited_client(
    settings: Settings, db: Database, redis: Redis
) -> Iterator[Callable[[str], FlaskClient]]:
    """Clients of apps with SUBMIT_RATE_LIMIT set as in production."""
    apps: list[Flask] = []

    def make(limit: str) -> FlaskClient:
        app = create_app(replace(settings, submit_rate_limit=limit))
        apps.append(app)
        return signed_in(app)

    yield make
    for app in apps:
        feedqueue.of(app).close()


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_json_submission_answers_202_with_a_poll_url(client: FlaskClient, redis: Redis) -> None:
    response = client.post("/feeds", json={"url": "https://example.com/feed.xml"})
    assert response.status_code == 202
    body = response.get_json()
    fetch = body["fetch"]
    assert response.headers["Location"] == f"/fetches/{fetch['id']}"
    assert body["status_url"] == f"/fetches/{fetch['id']}"
    assert body["feed_url"] == f"/api/feeds/{fetch['feed_id']}"
    assert fetch["state"] == "queued"
    assert fetch["queue_position"] == 0
    assert response.headers["Retry-After"]


def test_submission_enqueues_one_job_whose_id_is_the_fetch_id(
    client: FlaskClient, redis: Redis
) -> None:
    fetch_id = client.post("/feeds", json={"url": "https://example.com/a"}).get_json()["fetch"][
        "id"
    ]
    queued = [j.decode() for j in redis.lrange("rq:queue:feedqueue-test-submissions", 0, -1)]
    assert queued == [fetch_id]


def test_form_submission_from_a_browser_redirects_to_the_feed_page(
    client: FlaskClient, db: Database
) -> None:
    response = client.post(
        "/feeds", data={"url": "https://example.com/feed"}, headers={"Accept": "text/html"}
    )
    assert response.status_code == 303
    with db.session() as session:
        feed_id = session.scalar(select(Feed.id))
    assert response.headers["Location"] == f"/feeds/{feed_id}"


def test_form_submission_asking_for_json_gets_202(client: FlaskClient) -> None:
    response = client.post("/feeds", data={"url": "https://example.com/feed"}, headers=JSON)
    assert response.status_code == 202


def test_resubmitting_a_pending_feed_returns_the_same_fetch(
    client: FlaskClient, redis: Redis, db: Database
) -> None:
    first = client.post("/feeds", json={"url": "https://example.com/feed"}).get_json()
    second = client.post("/feeds", json={"url": "HTTPS://EXAMPLE.com:443/feed#x"}).get_json()
    assert second["fetch"]["id"] == first["fetch"]["id"]
    assert second["created"] is False
    assert _count(db, Fetch) == 1 and _count(db, Feed) == 1
    assert redis.llen("rq:queue:feedqueue-test-submissions") == 1


def test_invalid_url_is_refused_with_400_invalid_url(client: FlaskClient, db: Database) -> None:
    response = client.post("/feeds", json={"url": "ftp://example.com/feed"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_url"
    assert response.get_json()["error"]["message"]
    assert _count(db, Feed) == 0


def test_missing_url_field_is_refused_with_invalid_url(client: FlaskClient) -> None:
    response = client.post("/feeds", json={"link": "https://example.com"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_url"


def test_json_body_that_is_not_an_object_is_refused(client: FlaskClient) -> None:
    response = client.post("/feeds", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_malformed_json_is_refused(client: FlaskClient) -> None:
    response = client.post("/feeds", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_unsupported_body_type_is_refused_with_415(client: FlaskClient) -> None:
    response = client.post(
        "/feeds", data="https://example.com", content_type="text/plain", headers=JSON
    )
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_literal_private_address_is_refused_when_private_networks_are_off(
    app_without_private: FlaskClient,
) -> None:
    response = app_without_private.post("/feeds", json={"url": "http://127.0.0.1:8080/feed"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "blocked_address"


def test_submission_when_redis_is_down_answers_503_and_writes_nothing(
    client_with_dead_redis: FlaskClient, db: Database
) -> None:
    response = client_with_dead_redis.post("/feeds", json={"url": "https://example.com/feed"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "queue_unavailable"
    assert response.headers["Retry-After"]
    assert _count(db, Feed) == 0 and _count(db, Fetch) == 0


def test_reads_still_work_when_redis_is_down(client_with_dead_redis: FlaskClient) -> None:
    assert client_with_dead_redis.get("/api/feeds").status_code == 200
    assert client_with_dead_redis.get("/", headers={"Accept": "text/html"}).status_code == 200


def test_refresh_of_an_unknown_feed_is_404(client: FlaskClient) -> None:
    response = client.post("/feeds/999/refresh", json={})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "feed_not_found"


def test_refresh_queues_a_manual_fetch(client: FlaskClient, redis: Redis) -> None:
    first = client.post("/feeds", json={"url": "https://example.com/feed"}).get_json()
    # While the first fetch is pending, a refresh returns it rather than queueing another.
    again = client.post(f"/feeds/{first['fetch']['feed_id']}/refresh", json={})
    assert again.status_code == 202
    assert again.get_json()["fetch"]["id"] == first["fetch"]["id"]


def test_form_post_without_csrf_token_is_refused(settings, db: Database) -> None:
    from app import create_app

    app = create_app(settings)
    response = signed_in(app).post(
        "/feeds", data={"url": "https://example.com/feed"}, headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    assert b"form expired" in response.data
    assert _count(db, Feed) == 0


def test_json_submission_needs_no_csrf_token(settings, db: Database, redis: Redis) -> None:
    from app import create_app

    app = create_app(settings)
    response = signed_in(app).post("/feeds", json={"url": "https://example.com/feed"})
    assert response.status_code == 202


def test_too_many_submissions_get_429_with_retry_after(
    settings, db: Database, redis: Redis
) -> None:
    from dataclasses import replace

    from app import create_app

    app = create_app(replace(settings, submit_rate_limit="2 per minute"))
    client = signed_in(app)
    codes = [
        client.post("/feeds", json={"url": f"https://example.com/{i}"}).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]
    response = client.post("/feeds", json={"url": "https://example.com/x"})
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_responses_carry_security_headers(client: FlaskClient) -> None:
    headers = client.get("/", headers={"Accept": "text/html"}).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"]


def test_the_202_and_each_poll_carry_the_apps_polling_hint_not_the_limiters_window(
    make_limited_client: Callable[[str], FlaskClient],
) -> None:
    client = make_limited_client("30 per minute;300 per hour")
    response = client.post("/feeds", json={"url": "https://example.com/hint"})
    assert response.status_code == 202
    assert response.headers["X-RateLimit-Limit"]  # the limiter did run on this request
    assert response.headers["Retry-After"] == "1"
    poll = client.get(response.headers["Location"])
    assert poll.status_code == 200 and poll.headers["Retry-After"] == "1"


def test_a_refused_submission_carries_no_retry_after_from_the_limiter(
    make_limited_client: Callable[[str], FlaskClient],
) -> None:
    client = make_limited_client("30 per minute")
    response = client.post("/feeds", json={"url": "ftp://example.com/feed"})
    assert response.status_code == 400 and "Retry-After" not in response.headers


def test_a_429_keeps_the_limiters_retry_after(
    make_limited_client: Callable[[str], FlaskClient],
) -> None:
    client = make_limited_client("1 per day")
    assert client.post("/feeds", json={"url": "https://example.com/a"}).status_code == 202
    response = client.post("/feeds", json={"url": "https://example.com/b"})
    assert response.status_code == 429
    # The rest of the day's window (more than the polling hint unless the day ends now).
    assert 10 < int(response.headers["Retry-After"]) <= 86400

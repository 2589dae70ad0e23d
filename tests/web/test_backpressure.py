"""Over capacity, submissions get 503 queue_full with Retry-After and nothing is written;
an OPML import's feeds each count against the client's rate limit."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.opml import OpmlEntry, build_opml
from app.queue import backpressure
from app.storage.db import Database
from app.storage.models import Feed, OpmlImportEntry
from tests.conftest import signed_in

SUBMISSIONS = "rq:queue:feedqueue-test-submissions"


@pytest.fixture
def make_client(
    settings: Settings, db: Database, redis: Redis
) -> Iterator[Callable[..., FlaskClient]]:
    apps: list[Flask] = []

    def make(**changes: object) -> FlaskClient:
        app = create_app(replace(settings, **changes))
        app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        apps.append(app)
        return signed_in(app)

    yield make
    for app in apps:
        feedqueue.of(app).close()


def _feeds(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Feed)) or 0


def test_a_submission_into_a_full_queue_is_503_queue_full_and_saves_nothing(
    make_client: Callable[..., FlaskClient], db: Database, redis: Redis
) -> None:
    client = make_client(queue_max_jobs=2)
    assert client.post("/feeds", json={"url": "https://a.example/feed"}).status_code == 202
    assert client.post("/feeds", json={"url": "https://b.example/feed"}).status_code == 202
    response = client.post("/feeds", json={"url": "https://c.example/feed"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "queue_full"
    assert response.headers["Retry-After"] == "30"
    assert _feeds(db) == 2 and redis.llen(SUBMISSIONS) == 2


def test_submissions_are_accepted_again_once_the_queue_drains(
    make_client: Callable[..., FlaskClient], redis: Redis
) -> None:
    client = make_client(queue_max_jobs=1)
    assert client.post("/feeds", json={"url": "https://a.example/feed"}).status_code == 202
    assert client.post("/feeds", json={"url": "https://b.example/feed"}).status_code == 503
    redis.lpop(SUBMISSIONS)  # a worker took the job
    assert client.post("/feeds", json={"url": "https://b.example/feed"}).status_code == 202


def test_the_global_budget_refuses_the_submission_past_it_whoever_sends_it(
    make_client: Callable[..., FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"now": 1_800_000_030.0}  # half way through a minute
    monkeypatch.setattr(backpressure, "time", SimpleNamespace(time=lambda: clock["now"]))
    client = make_client(submit_global_per_minute=2)

    def submit(n: int) -> TestResponse:
        return client.post(
            "/feeds",
            json={"url": f"https://{n}.example/feed"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )

    assert [submit(n).status_code for n in range(2)] == [202, 202]
    refused = submit(2)
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "queue_full"
    assert refused.headers["Retry-After"] == "31"  # the rest of the minute, and a second
    clock["now"] += 30  # the next minute has a budget of its own
    assert submit(3).status_code == 202


def test_a_refresh_into_a_full_queue_is_503_queue_full(
    make_client: Callable[..., FlaskClient], redis: Redis
) -> None:
    client = make_client(queue_max_jobs=1)
    feed_id = client.post("/feeds", json={"url": "https://a.example/feed"}).get_json()["fetch"][
        "feed_id"
    ]
    response = client.post(f"/feeds/{feed_id}/refresh", headers={"Accept": "application/json"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "queue_full"


def _opml(count: int) -> bytes:
    return build_opml(
        OpmlEntry(0, f"Feed {n}", f"https://f{n}.example/rss", None) for n in range(count)
    )


def _import(client: FlaskClient, data: bytes):  # noqa: ANN202
    return client.post(
        "/opml/import",
        data={"file": (io.BytesIO(data), "feeds.opml")},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    )


def _refusals(db: Database) -> list[str | None]:
    with db.session() as session:
        return list(
            session.scalars(select(OpmlImportEntry.refusal).order_by(OpmlImportEntry.position))
        )


def test_each_feed_of_an_opml_import_counts_against_the_clients_rate_limit(
    make_client: Callable[..., FlaskClient], db: Database
) -> None:
    # The upload is one submission and each feed one more: 1 + 4 = 5 of the 5 allowed.
    # A day's window: a minute's could end between the upload and its feeds.
    client = make_client(submit_rate_limit="5 per day")
    assert _import(client, _opml(6)).status_code == 303
    refusals = _refusals(db)
    assert refusals[:4] == [None] * 4
    assert all(r and "rate limit" in r for r in refusals[4:]) and len(refusals) == 6
    assert _feeds(db) == 4
    # The budget is spent: a single submission is refused too.
    assert client.post("/feeds", json={"url": "https://z.example/feed"}).status_code == 429


def test_an_opml_import_into_a_full_queue_reports_the_rest_refused(
    make_client: Callable[..., FlaskClient], db: Database
) -> None:
    client = make_client(queue_max_jobs=2)
    assert _import(client, _opml(3)).status_code == 303
    refusals = _refusals(db)
    assert refusals[:2] == [None, None] and "full" in (refusals[2] or "")

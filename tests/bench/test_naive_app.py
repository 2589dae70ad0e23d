"""The naive baseline does in the request what the worker does: fetch, then store the items."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import Item
from bench.naive_app import create_naive_app
from tests.feedserver import FeedServer


def test_a_naive_submission_fetches_and_stores_the_items_before_answering(
    settings: Settings,
    db: Database,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # create_naive_app() reads its settings from the environment, as gunicorn runs it.
    for var, value in {
        "FEEDQUEUE_ENV": "test",
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "FETCH_ALLOW_PRIVATE_NETWORKS": "true",
    }.items():
        monkeypatch.setenv(var, value)
    app = create_naive_app()
    url = feed_server.add_fixture("/rss.xml", "example-rss20.xml")
    try:
        response = app.test_client().post("/naive/feeds", json={"url": url})
    finally:
        feedqueue.of(app).close()
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items_new"] == 3
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 3

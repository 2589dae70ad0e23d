"""/metrics is for the scraper only: bearer token or admin credentials."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from tests.observability.conftest import TOKEN


def _client(settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(settings)
    yield app.test_client()
    feedqueue.of(app).close()


@pytest.fixture
def admin_client(metrics_settings: Settings, db: Database) -> Iterator[FlaskClient]:
    yield from _client(replace(metrics_settings, admin_user="ops", admin_password="s3cret"))


@pytest.fixture
def unconfigured_client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    yield from _client(replace(settings, metrics_token=None, admin_user=None))


def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_metrics_without_credentials_is_401(client: FlaskClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"feedqueue_" not in response.data


def test_metrics_with_a_wrong_token_is_401(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert response.status_code == 401


def test_metrics_with_the_token_is_served_as_prometheus_text(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert b"feedqueue_http_request_duration_seconds" in response.data


def test_metrics_with_admin_credentials_is_served(admin_client: FlaskClient) -> None:
    response = admin_client.get("/metrics", headers=_basic("ops", "s3cret"))
    assert response.status_code == 200


def test_metrics_with_wrong_admin_password_is_401(admin_client: FlaskClient) -> None:
    response = admin_client.get("/metrics", headers=_basic("ops", "wrong"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_metrics_does_not_exist_without_token_or_admin(unconfigured_client: FlaskClient) -> None:
    response = unconfigured_client.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404

"""/readyz: 200 when Postgres and Redis answer, 503 naming the failed check otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database


def _client(settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(settings)
    yield app.test_client()
    feedqueue.of(app).close()


@pytest.fixture
def dead_redis_client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    yield from _client(replace(settings, redis_url="redis://127.0.0.1:1/0"))


@pytest.fixture
def dead_postgres_client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    yield from _client(
        replace(settings, database_url="postgresql+psycopg2://postgres@127.0.0.1:1/postgres")
    )


def test_readyz_is_ok_when_postgres_and_redis_answer(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_readyz_is_503_with_retry_after_when_redis_is_down(
    dead_redis_client: FlaskClient,
) -> None:
    response = dead_redis_client.get("/readyz")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == "unavailable" and body["failed"] == ["redis"]
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("failed")


def test_readyz_is_503_when_postgres_is_down(dead_postgres_client: FlaskClient) -> None:
    response = dead_postgres_client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["postgres"]


def test_metrics_scrape_survives_redis_being_down(
    dead_redis_client: FlaskClient, metrics_settings: Settings
) -> None:
    # The queue collector reports Redis as down instead of failing the scrape.
    app = create_app(replace(metrics_settings, redis_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {metrics_settings.metrics_token}"}
    )
    feedqueue.of(app).close()
    assert response.status_code == 200
    assert b"feedqueue_redis_up 0.0" in response.data


def _probe_backends(db: Database) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'feedqueue-probe' "
                    "AND datname = current_database()"
                )
            )
        )


def test_readyz_probes_reuse_one_pooled_connection_however_many_arrive(
    client: FlaskClient, db: Database
) -> None:
    assert client.get("/readyz").status_code == 200
    first = _probe_backends(db)
    assert len(first) == 1  # kept open in the pool, not one per probe
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _n: client.get("/readyz").status_code, range(40)))
    assert set(codes) <= {200, 503} and 200 in codes
    assert _probe_backends(db) == first

"""Redis and Postgres go away and come back: the app says 503 meanwhile and heals itself.

These tests start their own throwaway servers (so they can stop them) from the
same pip packages ``make run`` uses.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from alembic import command
from flask.testing import FlaskClient

from app import create_app
from app.config import Settings, normalize_database_url
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import Fetch, FetchState
from scripts.devservices import Service, start_postgres, start_redis
from tests.conftest import WorkerDyno, alembic_config, signed_in, wait_for
from tests.dynos import free_port
from tests.feedserver import FeedServer


@dataclass
class Throwaway:
    """Servers of our own, with restart buttons."""

    folder: Path
    redis_port: int
    pg: Service
    redis: Service

    def stop_redis(self) -> None:
        self.redis.stop()

    def start_redis(self) -> None:
        self.redis = start_redis(self.folder / "redis", port=self.redis_port, persist=True)

    def stop_postgres(self) -> None:
        self.pg.stop()

    def start_postgres(self) -> None:
        self.pg = start_postgres(self.folder / "postgres", database="outage")


@pytest.fixture
def throwaway() -> Iterator[Throwaway]:
    # Not under pytest's tmp_path: Postgres runs as its own user, and any pytest session
    # that starts on this machine meanwhile makes /tmp/pytest-of-<user> private again.
    folder = Path(tempfile.mkdtemp(prefix="feedqueue-outage-"))
    folder.chmod(0o755)
    port = free_port()
    servers = Throwaway(
        folder,
        port,
        start_postgres(folder / "postgres", database="outage"),
        start_redis(folder / "redis", port=port, persist=True),
    )
    command.upgrade(alembic_config(servers.pg.url), "head")
    yield servers
    for service in (servers.redis, servers.pg):
        try:
            service.stop()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def outage_settings(settings: Settings, throwaway: Throwaway) -> Settings:
    return replace(
        settings,
        database_url=normalize_database_url(throwaway.pg.url),
        redis_url=throwaway.redis.url,
    )


@pytest.fixture
def outage_client(outage_settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(outage_settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield signed_in(app)
    feedqueue.of(app).close()


def _fetch_state(settings: Settings, fetch_id: str) -> FetchState | None:
    db = Database(settings.database_url or "", pool_size=1)
    try:
        with db.session() as session:
            fetch = session.get(Fetch, uuid.UUID(fetch_id))
            return fetch.state if fetch else None
    finally:
        db.dispose()


def _worker_on(
    settings: Settings, start_worker: Callable[..., WorkerDyno], **env: str
) -> WorkerDyno:
    """A worker dyno on the throwaway servers."""
    return start_worker(
        concurrency=1,
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        **env,
    )


def test_redis_outage_gives_503_then_heals_web_and_worker(
    throwaway: Throwaway,
    outage_settings: Settings,
    outage_client: FlaskClient,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    url = feed_server.add_fixture("/a.xml", "example-rss20.xml")
    _worker_on(outage_settings, start_worker)
    first = outage_client.post("/feeds", json={"url": url}).get_json()["fetch"]["id"]
    wait_for(lambda: _fetch_state(outage_settings, first) == FetchState.SUCCEEDED, timeout=30)

    throwaway.stop_redis()
    down = outage_client.post("/feeds", json={"url": feed_server.url("/b.xml")})
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "queue_unavailable"
    assert down.headers["Retry-After"]
    assert outage_client.get("/api/feeds").status_code == 200  # reads still work
    assert outage_client.get("/", headers={"Accept": "text/html"}).status_code == 200

    throwaway.start_redis()
    feed_server.add_fixture("/b.xml", "example-rss20.xml")
    again = outage_client.post("/feeds", json={"url": feed_server.url("/b.xml")})
    assert again.status_code == 202
    second = again.get_json()["fetch"]["id"]
    # The same worker dyno, never restarted by the test, picks the job up.
    wait_for(lambda: _fetch_state(outage_settings, second) == FetchState.SUCCEEDED, timeout=60)


def test_postgres_outage_gives_503_then_heals_web_and_worker(
    throwaway: Throwaway,
    outage_settings: Settings,
    outage_client: FlaskClient,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    url = feed_server.add_fixture("/a.xml", "example-rss20.xml")
    _worker_on(
        outage_settings,
        start_worker,
        RECONCILE_EVERY_SECONDS="1",
        RECONCILE_QUEUED_GRACE_SECONDS="2",
    )
    assert outage_client.get("/api/feeds").status_code == 200  # pool has live connections

    throwaway.stop_postgres()
    down = outage_client.get("/api/feeds")
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "database_unavailable"
    posted = outage_client.post("/feeds", json={"url": url})
    assert posted.status_code == 503

    throwaway.start_postgres()
    wait_for(lambda: outage_client.get("/api/feeds").status_code == 200, timeout=20)
    fetch_id = outage_client.post("/feeds", json={"url": url}).get_json()["fetch"]["id"]
    wait_for(lambda: _fetch_state(outage_settings, fetch_id) == FetchState.SUCCEEDED, timeout=60)

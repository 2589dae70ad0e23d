"""Shared fixtures: real Postgres, real Redis, a loopback feed server, the app, worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import insert, text

from app import create_app
from app.config import Settings, normalize_database_url
from app.context import JobContext, build_context, set_context
from app.extensions import feedqueue
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.services import accounts, app_passwords
from app.services.accounts import hash_password, session_fingerprint
from app.storage.db import Database
from app.storage.models import Base, Feed, Item, User
from app.storage.users import create_user, user_by_name
from tests.dynos import ROOT, WebDyno, WorkerDyno
from tests.feedserver import FeedServer
from tests.servers import resolve_services
from tests.storage.rows import subscribe

__all__ = ["ROOT", "WebDyno", "WorkerDyno", "alembic_config", "wait_for"]

QUEUE_PREFIX = "feedqueue-test"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many xdist workers ``-n auto`` (``make test``) starts.

    Each worker claims its own slot (tests/servers.py), so its own database and Redis
    database; TEST_DATABASE_URL / TEST_REDIS_URL name one of each, which workers would
    share, so then none. Otherwise one more than the cores: most tests wait on worker
    processes, servers and sockets, and a third worker fills that wait.
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set.
    """
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_REDIS_URL"):
        return 0
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return (os.cpu_count() or 1) + 1


@pytest.fixture(scope="session")
def service_urls() -> Iterator[tuple[str, str]]:
    db_url, redis_url, cleanups = resolve_services()
    yield db_url, redis_url
    for cleanup in cleanups:
        cleanup()


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture(scope="session")
def migrated(service_urls: tuple[str, str]) -> str:
    """The test database, migrated to head once per run."""
    db_url = service_urls[0]
    command.upgrade(alembic_config(db_url), "head")
    return db_url


@pytest.fixture
def settings(migrated: str, service_urls: tuple[str, str]) -> Settings:
    return Settings(
        env="test",
        database_url=normalize_database_url(migrated),
        redis_url=service_urls[1],
        queue_prefix=QUEUE_PREFIX,
        fetch_allow_private_networks=True,
        fetch_retries=0,
        fetch_deadline=10.0,
        log_level="WARNING",
        submit_rate_limit="10000 per minute",
        host_concurrency=50,
        host_per_minute=100000,
    )


@pytest.fixture
def worker_env(settings: Settings) -> dict[str, str]:
    """Environment for real app processes (worker.py, gunicorn) under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        FEEDQUEUE_ENV="test",
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        QUEUE_PREFIX=QUEUE_PREFIX,
        FETCH_ALLOW_PRIVATE_NETWORKS="true",
        FETCH_RETRIES=str(settings.fetch_retries),
        FETCH_DEADLINE=str(settings.fetch_deadline),
        LOG_LEVEL="INFO",
        SUBMIT_RATE_LIMIT="10000 per minute",
        FETCH_HOST_CONCURRENCY="50",
        FETCH_HOST_PER_MINUTE="100000",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    """The test Redis database, emptied before each test."""
    client = Redis.from_url(settings.redis_url or "")
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The test database with empty tables."""
    database = Database(settings.database_url or "", pool_size=2)
    with database.engine.begin() as conn:
        # Every table the models declare, so a new one starts empty in each test too.
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def queues(settings: Settings, redis: Redis) -> Iterator[Queues]:
    """The app's queues on the test Redis database (emptied first)."""
    queues = Queues(redis_from_url(settings.redis_url or ""), settings)
    yield queues
    queues.redis.close()


@pytest.fixture
def job_context(settings: Settings, db: Database, redis: Redis) -> Iterator[JobContext]:
    """A job context in this process, for running jobs and housekeeping inline."""
    ctx = build_context(settings)
    set_context(ctx)
    yield ctx
    set_context(None)
    ctx.close()


@pytest.fixture
def job_context_with(job_context: JobContext) -> Iterator[Callable[..., JobContext]]:
    """The inline job context with some settings changed (and installed for jobs)."""

    def make(**changes: object) -> JobContext:
        ctx = replace(job_context, settings=replace(job_context.settings, **changes))
        set_context(ctx)
        return ctx

    yield make
    set_context(job_context)


@pytest.fixture
def app(settings: Settings, db: Database, redis: Redis) -> Iterator[Flask]:
    flask_app = create_app(settings)
    # Form posts in these tests come without a token; CSRF has its own tests.
    flask_app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield flask_app
    feedqueue.of(flask_app).close()


#: The password of the accounts the fixtures create.
PASSWORD = "correct horse battery"


@pytest.fixture
def make_app(settings: Settings, db: Database, redis: Redis) -> Iterator[Callable[..., Flask]]:
    """Build apps with CSRF on (as in production) and some settings replaced."""
    apps: list[Flask] = []

    def make(**changes: object) -> Flask:
        flask_app = create_app(replace(settings, **changes))
        apps.append(flask_app)
        return flask_app

    yield make
    for flask_app in apps:
        feedqueue.of(flask_app).close()


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run


@pytest.fixture
def cheap_password_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its lowest cost in this process, for tests that send many made-up
    HTTP Basic credentials: each one is checked against a hash as slow as a real
    password's (a tenth of a second), on purpose. The hashing has its own tests."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", hasher.hash("not a password anyone has"))


def add_user(db: Database, username: str = "reader", *, is_admin: bool = False) -> User:
    """The account ``username`` (created and committed if new), password :data:`PASSWORD`."""
    with db.session() as session:
        user = user_by_name(session, username)
        if user is None:
            user = create_user(session, username, _password_hash(), is_admin=is_admin)
        elif is_admin and not user.is_admin:
            user.is_admin = True
        session.commit()
        return user


def fever_key_of(db: Database, settings: Settings, username: str = "reader") -> str:
    """The Fever ``api_key`` of a new app password of ``username`` (created if needed)."""
    user = add_user(db, username)
    with db.session() as session:
        created = app_passwords.create(session, settings, user, "Reeder")
    return app_passwords.fever_key(username, created.password)


def follow(db: Database, feed_id: int, username: str = "reader") -> int:
    """Subscribe ``username`` (created if needed) to the feed; returns the feed id."""
    user = add_user(db, username)
    with db.session() as session:
        subscribe(session, user.id, feed_id, unread_recent=1000)
        session.commit()
    return feed_id


def add_feed_with_items(
    db: Database, url: str, count: int, title: str = "t", username: str = "reader"
) -> tuple[int, list[int]]:
    """A feed with ``count`` items an hour apart (2026-01-01 on), followed by ``username``;
    its id and the items' ids, oldest first."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as session:
        feed = Feed(url=url, current_url=url, title=title)
        session.add(feed)
        session.flush()
        ids = list(
            session.scalars(
                insert(Item).returning(Item.id),
                [
                    {
                        "feed_id": feed.id,
                        "key": f"k{n}",
                        "url": f"https://{title}.example/{n}",
                        "title": f"{title} item {n}",
                        "content_html": f"<p>whole body {n} about gardening</p>",
                        "summary_html": f"<p>summary {n}</p>",
                        "content_hash": "h",
                        "sort_at": base + timedelta(hours=n),
                    }
                    for n in range(count)
                ],
            )
        )
        session.commit()
        feed_id = feed.id
    follow(db, feed_id, username)
    return feed_id, ids


def follow_all(db: Database, username: str = "reader") -> None:
    """Subscribe ``username`` (created if needed) to every feed, in one statement: the
    scheduler refreshes only feeds someone follows."""
    user = add_user(db, username)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscriptions (user_id, feed_id) SELECT :user_id, id FROM feeds "
                "ON CONFLICT DO NOTHING"
            ),
            {"user_id": user.id},
        )


def signed_in(app: Flask, username: str = "reader", *, is_admin: bool = False) -> FlaskClient:
    """A client of ``app`` signed in as ``username`` (created if needed) in the app's database."""
    db = Database(feedqueue.of(app).settings.database_url or "", pool_size=1)
    try:
        user = add_user(db, username, is_admin=is_admin)
    finally:
        db.dispose()
    return sign_in(app.test_client(), user)


def sign_in(client: FlaskClient, user: User) -> FlaskClient:
    """Give ``client`` a session of ``user``, as the sign-in form does."""
    with client.session_transaction() as session:
        session["uid"] = user.id
        session["fp"] = session_fingerprint(user)
    return client


@pytest.fixture
def user(db: Database) -> User:
    """The account the ``client`` fixture is signed in as."""
    return add_user(db, "reader")


@pytest.fixture
def client(app: Flask, user: User) -> FlaskClient:
    """A client signed in as ``user``."""
    return sign_in(app.test_client(), user)


@pytest.fixture
def anon_client(app: Flask) -> FlaskClient:
    """A client nobody signed in with."""
    return app.test_client()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def run_worker_burst(worker_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python worker.py --burst`` (a real worker process) until the queues are empty."""

    def run(timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "worker.py", "--burst"],
            cwd=ROOT,
            env={**worker_env, **extra_env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    return run


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WorkerDyno]]:
    """Start real worker dynos; any left running are stopped after the test."""
    dynos: list[WorkerDyno] = []

    def start(concurrency: int = 2, **extra_env: str) -> WorkerDyno:
        dyno = WorkerDyno(
            {**worker_env, **extra_env}, tmp_path / f"worker-{len(dynos)}.log", concurrency
        )
        dynos.append(dyno)
        return dyno

    yield start
    _stop_and_show_logs(dynos)


@pytest.fixture
def start_web(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WebDyno]]:
    """Start real web dynos (gunicorn on loopback) and wait until they answer."""
    dynos: list[WebDyno] = []

    def start(workers: int = 1, **extra_env: str) -> WebDyno:
        dyno = WebDyno(
            {**worker_env, **extra_env}, tmp_path / f"web-{len(dynos)}.log", workers
        )
        dynos.append(dyno)
        wait_for(dyno.healthy, timeout=30)
        return dyno

    yield start
    _stop_and_show_logs(dynos)


def _stop_and_show_logs(dynos: Sequence[WorkerDyno | WebDyno]) -> None:
    """Kill the dynos and print the end of their logs: pytest shows it for a failed test."""
    for dyno in dynos:
        dyno.kill()
        print(f"--- {dyno.log_path.name}, last lines:\n{dyno.log_path.read_text()[-4000:]}")


#: How long a test waits for real processes to do something (a worker dyno's first fetch
#: on a CI machine loaded by the rest of the suite has taken over 20 s).
PATIENCE = 30.0


def wait_for(
    predicate: Callable[[], object],
    timeout: float = PATIENCE,
    interval: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds.

    ``explain``, when given, describes what was seen instead, for the failure's message:
    a wait that fails once in many CI runs is only understood from what it shows then.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; instead: {explain()}" if explain else ""
            raise AssertionError(f"condition not met within {timeout} s{seen}")
        time.sleep(interval)

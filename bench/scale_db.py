"""The scale-out bench's Postgres: a private cluster, the feed load, the statistics read.

A private cluster (the machine's PostgreSQL binaries, ``initdb`` into a temporary
folder, 127.0.0.1:SCALE_PG_PORT) keeps WAL, CPU and pg_stat_statements figures to the
bench alone: the shared server on 5432 carries other test runs. It is removed when the
bench ends. ``--server URL`` uses an existing server instead (the test of the bench).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions

from bench.feedserver import host_address

#: Below Linux's ephemeral range (32768-60999): a port in it can be held for a minute by
#: another process's closed connection (TIME_WAIT), and the cluster would not start.
SCALE_PG_PORT = 25432
#: Server settings of the private cluster (the rest are PostgreSQL 15's defaults).
CLUSTER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "shared_buffers": "1GB",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "track_io_timing": "on",
}


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise RuntimeError("no pg_config on PATH: the private cluster needs PostgreSQL's binaries")
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root: run the cluster as the system's postgres user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def private_cluster() -> Iterator[str]:
    """Start a throwaway cluster; yield its admin URL; stop and delete it afterwards."""
    bindir = _bindir()
    folder = Path(tempfile.mkdtemp(prefix="feedqueue-scale-pg-", dir="/var/tmp"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    options = " ".join(f"-c {k}={v}" for k, v in CLUSTER_SETTINGS.items())
    try:
        subprocess.run(
            _as_postgres(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"),
                    "-o", f"-p {SCALE_PG_PORT} -k {folder} {options}", "start",
                ]
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        yield f"postgresql://postgres@127.0.0.1:{SCALE_PG_PORT}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def connect(url: str) -> psycopg2.extensions.connection:
    """An autocommit connection (statistics must not sit in one long transaction)."""
    conn = psycopg2.connect(url.replace("+psycopg2", ""))
    conn.autocommit = True
    return conn


def recreate_database(admin_url: str, name: str) -> str:
    """Drop and create database ``name``; returns its URL."""
    conn = connect(admin_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    conn = connect(admin_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def load_feeds(
    db_url: str,
    *,
    count: int,
    hosts: int,
    port: int,
    interval: int,
    start_in: float,
    subscriber: int,
) -> dict[str, float]:
    """Insert ``count`` active feeds in one set-based statement, spread over ``hosts``
    loopback hosts, with the validators the feed server gives (so each refresh is a 304),
    due at random times over one ``interval`` starting ``start_in`` seconds from now:
    as many come due each second as a steady schedule of ``count`` feeds brings.

    Each feed is followed by the user ``subscriber`` (a second set-based statement):
    the scheduler refreshes only feeds someone follows. Returns the seconds each
    step took (feeds with their schedule rows where the schema has feed_schedule,
    subscriptions, the vacuum of them)."""
    addresses = [host_address(i) for i in range(max(1, hosts))]
    conn = connect(db_url)
    with conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SELECT setseed(0.19)")
        cur.execute("SELECT to_regclass('feed_schedule') IS NOT NULL")
        (schedule,) = cur.fetchone() or (False,)
        if schedule:
            # The schedule's trigger would add one row per feed, one at a time: fill it
            # in one INSERT … SELECT in due order below instead, as migration 0010 does
            # (a superuser's setting; the bench's clusters are its own or trust it).
            cur.execute("SET session_replication_role = replica")
        began = time.monotonic()
        cur.execute(
            """
            INSERT INTO feeds (url, current_url, title, site_url, etag, last_modified,
                               content_hash, state, item_count, refresh_interval,
                               last_fetched_at, last_success_at, next_fetch_at)
            SELECT u, u, 'Bench feed ' || n, 'http://' || h || '/site/' || n,
                   '"' || n || '-0"', 'Tue, 14 Nov 2023 22:13:20 GMT',
                   md5(n::text) || md5(u), 'active', 20, %(interval)s,
                   now() - interval '30 minutes', now() - interval '30 minutes',
                   now() + make_interval(secs => %(start_in)s + random() * %(interval)s)
            FROM (
                SELECT n, h, 'http://' || h || ':' || %(port)s || '/feed/' || n || '.xml' AS u
                FROM (SELECT n, (%(addresses)s::text[])[1 + n %% %(hosts)s] AS h
                      FROM generate_series(1, %(count)s) AS n) AS numbered
            ) AS feeds_to_load
            """,
            {
                "addresses": addresses,
                "hosts": len(addresses),
                "port": port,
                "count": count,
                "interval": interval,
                "start_in": start_in,
            },
        )
        if schedule:
            cur.execute("RESET session_replication_role")
            cur.execute(
                "INSERT INTO feed_schedule (due_at, feed_id)"
                " SELECT next_fetch_at, id FROM feeds ORDER BY next_fetch_at"
            )
        feeds_done = time.monotonic()
        # The feeds are new: no subscription to skip, no item under the read watermark.
        cur.execute(
            "INSERT INTO subscriptions (user_id, feed_id) SELECT %(user)s, id FROM feeds",
            {"user": subscriber},
        )
        subscriptions_done = time.monotonic()
        # Hint bits, visibility map and statistics now, not inside the measured window.
        cur.execute("VACUUM (FREEZE, ANALYZE) feeds")
        cur.execute("VACUUM (FREEZE, ANALYZE) subscriptions")
        if schedule:
            cur.execute("VACUUM (FREEZE, ANALYZE) feed_schedule")
        vacuumed = time.monotonic()
    conn.close()
    return {
        "feeds_s": round(feeds_done - began, 1),
        "subscriptions_s": round(subscriptions_done - feeds_done, 1),
        "vacuum_s": round(vacuumed - subscriptions_done, 1),
    }


def reset_run(db_url: str, *, checkpoint: bool) -> None:
    """Forget the previous run's fetches and counters (the feeds stay as they are).

    ``checkpoint``: every run starts just after a checkpoint, so each pays the same
    full-page images (the first change of a page after a checkpoint logs the whole page).
    """
    conn = connect(db_url)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE fetches")
        if checkpoint:
            cur.execute("CHECKPOINT")
        cur.execute("SELECT pg_stat_reset()")
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if cur.fetchone():
            cur.execute("SELECT pg_stat_statements_reset()")
    conn.close()


def enable_statements(db_url: str) -> bool:
    """CREATE EXTENSION pg_stat_statements where the server preloads it; True if usable."""
    conn = connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW shared_preload_libraries")
            row = cur.fetchone()
            if "pg_stat_statements" not in str(row[0] if row else ""):
                return False
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            return True
    finally:
        conn.close()


def query_one(cur: Any, sql: str, params: object = None) -> tuple[Any, ...]:
    cur.execute(sql, params)
    row = cur.fetchone()
    assert row is not None
    return tuple(row)


def counters(conn: psycopg2.extensions.connection) -> dict[str, Any]:
    """WAL position and the per-table update counters, read at a window's ends."""
    with conn.cursor() as cur:
        (lsn,) = query_one(cur, "SELECT pg_current_wal_lsn()::text")
        (wal_bytes,) = query_one(cur, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        cur.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_dead_tup, n_live_tup,"
            " autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
            " WHERE relname IN ('feeds', 'feed_schedule', 'fetches')"
        )
        tables = {
            row[0]: dict(
                zip(
                    ("ins", "upd", "hot_upd", "dead", "live", "autovacuums", "autoanalyzes"),
                    (int(x) for x in row[1:]),
                    strict=True,
                )
            )
            for row in cur.fetchall()
        }
        cur.execute(
            "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database"
            " WHERE datname IS NOT NULL AND datname <> current_database()"
        )
        (other_commits,) = cur.fetchone() or (0,)
    return {
        "lsn": lsn,
        "wal_bytes": float(wal_bytes),
        "tables": tables,
        "other_commits": int(other_commits),
    }


def sizes(conn: psycopg2.extensions.connection) -> dict[str, int]:
    """Sizes of the feeds, feed_schedule (migration 0010 on), subscriptions and fetches
    tables and of each of their indexes (MiB)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT c.relname, pg_relation_size(c.oid)
            FROM pg_class c
            LEFT JOIN pg_index i ON i.indexrelid = c.oid
            LEFT JOIN pg_class t ON t.oid = i.indrelid
            WHERE c.relname IN ('feeds', 'feed_schedule', 'subscriptions', 'fetches')
               OR t.relname IN ('feeds', 'feed_schedule', 'subscriptions', 'fetches')
            ORDER BY coalesce(t.relname, c.relname), c.relname
            """
        )
        return {name: round(size / 2**20, 1) for name, size in cur.fetchall()}


def statements(conn: psycopg2.extensions.connection, limit: int = 16) -> list[dict[str, Any]]:
    """The bench database's costliest statements since the reset (pg_stat_statements)."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if cur.fetchone() is None:
            return []
        cur.execute(
            """
            SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), calls,
                   round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3),
                   rows, wal_bytes, shared_blks_hit + shared_blks_read
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time DESC LIMIT %s
            """,
            (limit,),
        )
        keys = ("query", "calls", "total_ms", "mean_ms", "rows", "wal_bytes", "blocks")
        return [
            {k: (float(v) if "ms" in k else v) for k, v in zip(keys, row, strict=True)}
            for row in cur.fetchall()
        ]


def finished_refreshes(conn: psycopg2.extensions.connection) -> int:
    """Refresh fetches finished so far (the whole run)."""
    with conn.cursor() as cur:
        (count,) = query_one(
            cur,
            "SELECT count(*) FROM fetches WHERE trigger = 'refresh' AND finished_at IS NOT NULL",
        )
    return int(count)


def window_fetches(
    conn: psycopg2.extensions.connection, start: float, end: float
) -> dict[str, float | int | None]:
    """Claims (refresh fetches created) and refreshes (finished) in [start, end), and the
    scheduling lag at claim (created_at - scheduled_for) and at start of the fetch."""
    with conn.cursor() as cur:
        row = query_one(
            cur,
            """
            SELECT
              count(*) FILTER (WHERE created_at >= to_timestamp(%(s)s)
                               AND created_at < to_timestamp(%(e)s)),
              count(*) FILTER (WHERE finished_at >= to_timestamp(%(s)s)
                               AND finished_at < to_timestamp(%(e)s)),
              count(*) FILTER (WHERE state = 'failed' AND finished_at >= to_timestamp(%(s)s)
                               AND finished_at < to_timestamp(%(e)s)),
              percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                ORDER BY extract(epoch FROM created_at - scheduled_for))
                FILTER (WHERE created_at >= to_timestamp(%(s)s)
                        AND created_at < to_timestamp(%(e)s)),
              percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                ORDER BY extract(epoch FROM started_at - scheduled_for))
                FILTER (WHERE started_at >= to_timestamp(%(s)s)
                        AND started_at < to_timestamp(%(e)s)),
              count(*) FILTER (WHERE state IN ('queued', 'running'))
            FROM fetches WHERE trigger = 'refresh'
            """,
            {"s": start, "e": end},
        )
    claimed, finished, failed, claim_lag, start_lag, pending = row
    return {
        "claims": int(claimed),
        "refreshes": int(finished),
        "failed": int(failed),
        "claim_lag_p50_s": round(claim_lag[0], 2) if claim_lag else None,
        "claim_lag_p99_s": round(claim_lag[1], 2) if claim_lag else None,
        "start_lag_p50_s": round(start_lag[0], 2) if start_lag else None,
        "start_lag_p99_s": round(start_lag[1], 2) if start_lag else None,
        "pending_at_end": int(pending),
    }

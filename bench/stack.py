"""Start and stop the benchmarked stack: Postgres/Redis, feed server, gunicorn, worker.py.

Postgres is the local server on 127.0.0.1:5432 (database ``feedqueue_bench``,
recreated and migrated with ``alembic upgrade head``) and Redis 127.0.0.1:6379
db 10; when either port is closed the embedded servers of scripts/devservices.py
are started instead. Every process is started in its own session and stopped
by its own pid.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from app.config import Settings
from bench.accounts import BenchAccount, create_account, subscribe_all

if TYPE_CHECKING:
    import psycopg2.extensions

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "feedqueue_bench"
# Another bench on the box (bench.scale_out has a feed server of its own) may hold
# the usual ports: BENCH_WEB_PORT and BENCH_FEED_PORT move this kit's.
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "8600"))
FEED_PORT = int(os.environ.get("BENCH_FEED_PORT", "8700"))
#: Loopback hosts the feed server also listens on (127.1.x.y, bench/feedserver.py):
#: feed n lives on host n % FEED_HOSTS, as feeds live on many sites on the web.
FEED_HOSTS = 6000
#: The comparison rows' placement: the kernel places every process, as PIN_CPUS=auto
#: (the default, app/placement.py) decides on a shared host. On this box auto pins,
#: so the headline rows are pinned and these show what pinning buys.
UNPINNED: dict[str, object] = {"PIN_CPUS": "false"}
#: An override for the web scenarios only: with every feed taking 5 s the worker runs
#: about 6 fetches a second, so 200 submissions a second queue 12,000 jobs a minute,
#: past QUEUE_MAX_JOBS's default 3,000, beyond which submissions are answered 503
#: queue_full (a capacity guard: docs/operations.md#capacity). What those scenarios
#: measure is the cost of a submission, so the guard is raised there and said so.
BACKLOG: dict[str, object] = {"QUEUE_MAX_JOBS": 1_000_000}
# Outside the tree: bench/results/ only ignores *.json.
LOG_DIR = Path(tempfile.gettempdir()) / "feedqueue-bench-logs"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: object, timeout: float, what: str) -> None:
    """Poll ``check()`` until it is true or raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


@dataclass
class Services:
    """Where the app's Postgres and Redis are; ``stops`` shut down embedded ones;
    ``account`` is the bench user that load generators act as (bench.accounts)."""

    database_url: str
    redis_url: str
    stops: list[object] = field(default_factory=list)
    account: BenchAccount | None = None

    @property
    def user(self) -> BenchAccount:
        """The bench account (created by :func:`start_services`)."""
        if self.account is None:
            raise RuntimeError("no bench account: start_services() creates it")
        return self.account

    def close(self) -> None:
        for stop in self.stops:
            stop()  # type: ignore[operator]

    def connect_db(self) -> psycopg2.extensions.connection:
        """A plain psycopg2 connection to the bench database (the kit's own SQL)."""
        import psycopg2

        return psycopg2.connect(self.database_url.replace("+psycopg2", ""))


def _recreate_database(admin_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def start_services() -> Services:
    """Find (or start) Postgres and Redis, recreate and migrate the bench database."""
    stops: list[object] = []
    if port_open(5432):
        _recreate_database("postgresql://postgres@127.0.0.1:5432/postgres", BENCH_DB)
        db_url = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}"
    else:
        sys.path.insert(0, str(ROOT))
        from scripts.devservices import start_postgres

        pg = start_postgres(ROOT / ".data" / "bench-postgres", database=BENCH_DB)
        db_url, _ = pg.url, stops.append(pg.stop)
    if port_open(6379):
        redis_url = "redis://127.0.0.1:6379/10"
    else:
        from scripts.devservices import start_redis

        rd = start_redis(ROOT / ".data" / "bench-redis")  # type: ignore[call-arg]
        redis_url, _ = rd.url, stops.append(rd.stop)
    services = Services(db_url, redis_url, stops)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=app_env(services),
        check=True,
        capture_output=True,
    )
    services.account = create_account(services.database_url)
    return services


def app_env(services: Services, **extra: object) -> dict[str, str]:
    """The environment of web and worker processes in every scenario."""
    env = dict(os.environ)
    env.update(
        FEEDQUEUE_ENV="production",
        SECRET_KEY="bench-secret-key-not-for-production",
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        FETCH_ALLOW_PRIVATE_NETWORKS="true",
        SUBMIT_RATE_LIMIT="1000000 per second",
        LOG_LEVEL="WARNING",
        QUEUE_PREFIX="feedqueue-bench",
    )
    # Everything else is at its default: PIN_CPUS (placement), WORKER_NICE, the
    # per-host politeness budget (FETCH_HOST_CONCURRENCY 2, FETCH_HOST_PER_MINUTE 60:
    # the scenarios spread their feeds over FEED_HOSTS loopback hosts so that no host
    # goes over it). SUBMIT_RATE_LIMIT is raised because the load generator is one
    # client address standing for many people. Rows with other settings pass them
    # as ``extra`` and say so (UNPINNED, WORKER_NICE=0).
    for name in ("PIN_CPUS", "WORKER_NICE", "FETCH_HOST_CONCURRENCY", "FETCH_HOST_PER_MINUTE"):
        env.pop(name, None)  # the caller's shell must not tune the headline rows
    env.update({k: str(v) for k, v in extra.items()})
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def reset_data(services: Services) -> None:
    """Empty the bench database's tables and the bench Redis db between scenarios.

    Feeds go with their subscriptions; the bench account and its token stay.
    """
    import redis

    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE items, fetches, feeds RESTART IDENTITY CASCADE")
    conn.close()
    redis.Redis.from_url(services.redis_url).flushdb()


class Proc:
    """A process this kit started (in its own session), with its log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tree(self) -> list[psutil.Process]:
        """This process and all its descendants."""
        try:
            me = psutil.Process(self.pid)
            return [me, *me.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by this process and its descendants."""
        total = 0.0
        for p in self.tree():
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL to the process group (it is ours) if it lingers."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()


def start_feedserver(*args: str, hosts: int = FEED_HOSTS) -> Proc:
    """The loopback feed server on FEED_PORT with the given options, on 127.0.0.1
    and on ``hosts`` more loopback hosts (:func:`feed_url`)."""
    if port_open(FEED_PORT):
        # Its feeds would be another server's: say so rather than measure them.
        raise RuntimeError(f"port {FEED_PORT} is taken: set BENCH_FEED_PORT to a free one")
    proc = Proc(
        "feedserver",
        [
            sys.executable,
            "-m",
            "bench.feedserver",
            "--port",
            str(FEED_PORT),
            "--hosts",
            str(hosts),
            *args,
        ],
        dict(os.environ),
    )
    last = host_address(hosts - 1) if hosts > 0 else "127.0.0.1"
    wait_until(lambda: port_open(FEED_PORT) and port_open(FEED_PORT, last), 30, "feed server")
    return proc


def feed_base() -> str:
    """URL prefix of the feed server's feeds on 127.0.0.1: append ``<n>.xml``."""
    return f"http://127.0.0.1:{FEED_PORT}/feed/"


def host_address(index: int) -> str:
    """Loopback address of bench host ``index`` (as bench.feedserver.host_address)."""
    from bench.feedserver import host_address as address

    return address(index)


def feed_url(n: int, hosts: int = FEED_HOSTS) -> str:
    """Feed ``n`` on host ``n % hosts`` of a feed server started with ``--hosts``;
    ``hosts=0`` puts every feed on 127.0.0.1 (one host)."""
    if hosts <= 0:
        return f"{feed_base()}{n}.xml"
    return f"http://{host_address(n % hosts)}:{FEED_PORT}/feed/{n}.xml"


def start_web(services: Services, app_spec: str = "app:create_app()", **env: object) -> Proc:
    """gunicorn with the project's gunicorn.conf.py, bound to 127.0.0.1:WEB_PORT."""
    if port_open(WEB_PORT):
        raise RuntimeError(f"port {WEB_PORT} is taken: set BENCH_WEB_PORT to a free one")
    web_log = LOG_DIR / "web.log"  # Proc's log for the name "web", appended to
    log_start = web_log.stat().st_size if web_log.exists() else 0
    proc = Proc(
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{WEB_PORT}",
            app_spec,
        ],
        app_env(services, **env),
    )

    def healthy() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{WEB_PORT}/healthz", timeout=2) as r:
            return r.status == 200

    wait_until(healthy, 30, "gunicorn")
    # One worker answering is not all of them: a scenario that starts while another
    # still boots has its first connections all on the one already up.
    workers = int(str(env.get("WEB_CONCURRENCY", setting_default("web_concurrency"))))

    def all_warm() -> bool:
        with web_log.open("rb") as log:
            log.seek(log_start)
            return log.read().count(b"] warmed up in ") >= workers

    wait_until(all_warm, 30, "every gunicorn worker's warm-up")
    return proc


def _registered_workers(services: Services) -> int:
    import redis
    from rq.worker_registration import REDIS_WORKER_KEYS

    client = redis.Redis.from_url(services.redis_url)
    try:
        return int(client.scard(REDIS_WORKER_KEYS))
    finally:
        client.close()


def setting_default(name: str) -> object:
    """The default of Settings' field ``name`` (each worker thread registers as an RQ worker)."""
    return next(f.default for f in dataclasses.fields(Settings) if f.name == name)


def start_worker(services: Services, name: str = "worker", **env: object) -> Proc:
    """``python worker.py`` with the given extra settings (WORKER_CONCURRENCY, ...),
    returned once every one of its RQ workers has registered: a dyno still starting
    (imports in each process) would otherwise share the CPU with what is measured."""
    before = _registered_workers(services)
    proc = Proc(name, [sys.executable, "worker.py"], app_env(services, **env))
    expected = int(str(env.get("WORKER_CONCURRENCY", setting_default("worker_concurrency")))) * int(
        str(env.get("WORKER_THREADS", setting_default("worker_threads")))
    )
    wait_until(
        lambda: _registered_workers(services) >= before + expected, 60, f"{name}'s RQ workers"
    )
    return proc


def subscribe_bench_user(services: Services) -> int:
    """Subscribe the bench user to every feed seeded with SQL; how many were added."""
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        added = subscribe_all(cur, services.user.user_id)
    conn.close()
    return added


@contextmanager
def running(*procs: Proc) -> Iterator[None]:
    """Stop the given processes however the block ends."""
    try:
        yield
    finally:
        for proc in reversed(procs):
            proc.stop()


def web_url(path: str = "") -> str:
    return f"http://127.0.0.1:{WEB_PORT}{path}"

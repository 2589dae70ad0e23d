"""The whole stack under the limits of the plans app.json picks: servers, env, samplers.

Shared by tests/integration/test_plan_limits.py (hundreds of submissions, a minute)
and bench/soak.py (an hour of refreshes):

- :class:`Plan`: a Key-Value Store plan's clients and memory, a Postgres plan's
  connections, how many worker dynos (:data:`MINI_ESSENTIAL0` is app.json's);
- :func:`limited_stack`: a redis-server of its own (the pip-installed binary the
  project runs locally) with ``--maxclients``, ``--maxmemory`` and ``noeviction``,
  and a Postgres role with ``CONNECTION LIMIT`` owning a fresh, migrated database;
- :func:`app_json_env`: app.json's env for those servers;
- :class:`Sampler`: peaks of Redis clients, Postgres connections of the role and
  Redis memory, sampled on connections of its own;
- :data:`BAD_LOG_LINES`: what no log may say.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from bench.stack import ROOT, wait_until

#: What a log must never say: a server refusing a connection or memory, or a
#: pool that ran dry, or a worker process restarting in a loop.
BAD_LOG_LINES = (
    "max number of clients",
    "too many clients",
    "too many connections",
    "remaining connection slots",
    "connection limit exceeded",
    "OOM command not allowed",
    "No connection available",
    "queue_unavailable",
    "thrashing",
)
#: CONNECTION_RESERVE's default: the slots the budget leaves for one-off dynos and psql.
RESERVE = 5
#: Environment variables a dyno inherits from the shell that starts it.
INHERITED = {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PROMETHEUS_MULTIPROC_DIR"}


@dataclass(frozen=True)
class Plan:
    """Limits of a Key-Value Store plan and a Postgres plan, and how many worker dynos."""

    redis_clients: int
    redis_memory: str
    postgres_connections: int
    worker_dynos: int

    @property
    def target(self) -> tuple[int, int]:
        """Peak (Redis clients, Postgres connections) allowed: the limits less the reserve."""
        return self.redis_clients - RESERVE, self.postgres_connections - RESERVE


#: app.json's add-ons and formation: Key-Value Store mini, Postgres essential-0, one worker.
MINI_ESSENTIAL0 = Plan(20, "25mb", 20, worker_dynos=1)
#: The next plans up (premium-0, essential-2) with two worker dynos.
PREMIUM0_ESSENTIAL2 = Plan(40, "50mb", 40, worker_dynos=2)


def bad_lines(text: str) -> list[str]:
    """The lines of a log that say something of :data:`BAD_LOG_LINES`."""
    return [line for line in text.splitlines() if any(bad in line for bad in BAD_LOG_LINES)]


@dataclass
class Peaks:
    """Clients of both servers and Redis memory, sampled while the stack runs."""

    redis: int = 0
    postgres: int = 0
    redis_memory: int = 0
    samples: int = 0
    errors: list[str] = field(default_factory=list)


class Sampler(threading.Thread):
    """Samples ``INFO`` and ``pg_stat_activity`` every ``every`` seconds on connections
    of its own (its Redis one is left out of the count; its Postgres one is another
    role's). ``latest`` holds the last sample: (Redis clients, connections, memory)."""

    def __init__(self, redis_url: str, admin_dsn: str, role: str, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.redis = Redis.from_url(redis_url)
        self.pg = psycopg2.connect(admin_dsn)
        self.pg.autocommit = True
        self.role = role
        self.every = every
        self.peaks = Peaks()
        self.latest = (0, 0, 0)
        self.stopped = threading.Event()

    def sample(self) -> tuple[int, int, int]:
        """(Redis clients but this one, Postgres connections of the role, Redis used_memory)."""
        clients = int(self.redis.info("clients")["connected_clients"]) - 1
        memory = int(self.redis.info("memory")["used_memory"])
        with self.pg.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (self.role,))
            (connections,) = cur.fetchone()  # type: ignore[misc]
        return clients, int(connections), memory

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                clients, connections, memory = self.latest = self.sample()
            except Exception as exc:  # noqa: BLE001 - kept and asserted on
                self.peaks.errors.append(repr(exc))
                self.stopped.wait(0.2)
                continue
            peaks = self.peaks
            peaks.redis = max(peaks.redis, clients)
            peaks.postgres = max(peaks.postgres, connections)
            peaks.redis_memory = max(peaks.redis_memory, memory)
            peaks.samples += 1
            self.stopped.wait(self.every)

    def stop(self) -> Peaks:
        """Stop sampling; the peaks."""
        self.stopped.set()
        self.join(5)
        self.redis.close()
        self.pg.close()
        return self.peaks


@dataclass
class Stack:
    """Where the limited servers are: the app's URLs, the admin's DSN, the role."""

    redis_url: str
    database_url: str
    admin_dsn: str
    role: str
    database: str
    redis_log: Path

    @property
    def admin_database_dsn(self) -> str:
        """The admin's DSN to the app's database (outside the role's connection limit)."""
        url = make_url(self.admin_dsn).set(database=self.database)
        return url.render_as_string(hide_password=False)


def start_redis(directory: Path, plan: Plan) -> tuple[str, subprocess.Popen[bytes]]:
    """A redis-server limited as ``plan`` says, on a unix socket in ``directory``;
    its URL and process (in its own session: stop it by its pid)."""
    from scripts.devservices import redis_server_binary

    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        [
            redis_server_binary(), "--port", "0", "--unixsocket", str(sock),
            "--unixsocketperm", "700", "--dir", str(directory), "--save", "",
            "--appendonly", "no", "--maxclients", str(plan.redis_clients),
            "--maxmemory", plan.redis_memory, "--maxmemory-policy", "noeviction",
            "--logfile", str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"unix://{sock}"

    def answers() -> bool:
        try:
            return bool(Redis.from_url(url).ping())
        except (RedisError, OSError):
            return False

    wait_until(answers, 10, "the limited redis-server")
    return url, proc


#: Alembic's ``context`` and ``op`` are module-level proxies: one migration at a time
#: per process, when stacks are set up side by side.
_MIGRATING = threading.Lock()


def _migrate(database_url: str) -> None:
    """``alembic upgrade head`` as the release phase runs it, in this process."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    with _MIGRATING:
        command.upgrade(config, "head")


@contextmanager
def limited_stack(
    admin_url: str, directory: Path, plan: Plan, name: str = "fq_plan"
) -> Iterator[Stack]:
    """Fresh Redis and Postgres limited as ``plan`` says, removed afterwards.

    ``admin_url`` is a superuser's URL (it creates the role and the database);
    the role and database are called ``<name>_<random>``.
    """
    from app.config import normalize_database_url

    admin = make_url(normalize_database_url(admin_url))
    admin_dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    role = database = f"{name}_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE ROLE {role} LOGIN PASSWORD 'plan' CONNECTION LIMIT {plan.postgres_connections}"
        )
        cur.execute(f"CREATE DATABASE {database} OWNER {role}")
    database_url = normalize_database_url(
        admin.set(username=role, password="plan", database=database).render_as_string(
            hide_password=False
        )
    )
    redis_proc = None
    try:
        _migrate(database_url)  # the release phase
        redis_url, redis_proc = start_redis(directory, plan)
        yield Stack(redis_url, database_url, admin_dsn, role, database, directory / "redis.log")
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            cur.execute(f"DROP DATABASE IF EXISTS {database}")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        conn.close()


def app_json_env(
    stack: Stack, base_env: Mapping[str, str], plan: Plan, **overrides: str
) -> dict[str, str]:
    """app.json's env for ``stack``, as the Heroku Button would set it, with what one
    machine needs: every feed is on one loopback server (private addresses allowed, the
    per-host politeness limits lifted) and all submissions come from one client (the
    per-client rate limit lifted). ``overrides`` come last."""
    app_json = json.loads((ROOT / "app.json").read_text())
    env = {k: v for k, v in base_env.items() if k in INHERITED}
    env.update({name: spec["value"] for name, spec in app_json["env"].items() if "value" in spec})
    env.update(
        DATABASE_URL=stack.database_url,
        REDIS_URL=stack.redis_url,
        SECRET_KEY="plan-limits-not-secret",  # app.json generates one
        QUEUE_PREFIX="feedqueue",
        LOG_LEVEL="INFO",
        FETCH_ALLOW_PRIVATE_NETWORKS="true",
        FETCH_HOST_CONCURRENCY="100000",
        FETCH_HOST_PER_MINUTE="100000000",
        SUBMIT_RATE_LIMIT="100000 per minute",
        REDIS_MAX_CONNECTIONS=str(plan.redis_clients),
        DATABASE_MAX_CONNECTIONS=str(plan.postgres_connections),
        WORKER_DYNOS=str(plan.worker_dynos),
    )
    env.update(overrides)
    return env

"""The whole stack under the limits of the plans app.json picks, and of the next ones up.

A redis-server of its own (the pip-installed binary the project runs locally)
with ``--maxclients`` and ``--maxmemory`` as Key-Value Store mini (20 clients,
25 MB, ``noeviction``), a Postgres role with ``CONNECTION LIMIT 20`` owning a
fresh database (essential-0), app.json's env, a web dyno (gunicorn) and a
worker dyno (``worker.py``). Hundreds of submissions and scheduled refreshes
must all end, with no connection or memory error in any log, while the
clients of both servers, sampled as they run, stay within the budget's target
(the plan's limit less ``CONNECTION_RESERVE``). Then the next plans up
(premium-0: 40 clients, 50 MB; essential-2: 40 connections) with two worker dynos.

Deviations from app.json's env, all of them needed to run on one machine:
every feed is on one loopback server (so private addresses are allowed and
the per-host politeness limits are lifted, as in bench/), and all submissions
come from one client (so the per-client rate limit is lifted).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import requests
from alembic import command
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from app.config import normalize_database_url
from app.services.accounts import create_token
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState
from scripts.devservices import redis_server_binary
from tests.conftest import add_user, alembic_config, follow_all, wait_for
from tests.dynos import ROOT, WebDyno, WorkerDyno
from tests.feedserver import FIXTURES, FeedServer

RSS = (FIXTURES / "example-rss20.xml").read_bytes()
SUBMISSIONS = 300
REFRESHES = 300

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


@dataclass
class Plan:
    """Limits of a Key-Value Store plan and a Postgres plan, and how many worker dynos."""

    redis_clients: int
    redis_memory: str
    postgres_connections: int
    worker_dynos: int

    @property
    def target(self) -> tuple[int, int]:
        reserve = 5  # CONNECTION_RESERVE's default
        return self.redis_clients - reserve, self.postgres_connections - reserve


@dataclass
class Peaks:
    """Clients of both servers, sampled while the stack runs."""

    redis: int = 0
    postgres: int = 0
    redis_memory: int = 0
    samples: int = 0
    errors: list[str] = field(default_factory=list)


class Sampler(threading.Thread):
    """Samples ``INFO`` and ``pg_stat_activity`` every 50 ms on connections of its own
    (its Redis one is left out of the count; its Postgres one is another role's)."""

    def __init__(self, redis_url: str, admin_dsn: str, role: str) -> None:
        super().__init__(daemon=True)
        self.redis = Redis.from_url(redis_url)
        self.pg = psycopg2.connect(admin_dsn)
        self.pg.autocommit = True
        self.role = role
        self.peaks = Peaks()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                clients = int(self.redis.info("clients")["connected_clients"]) - 1
                memory = int(self.redis.info("memory")["used_memory"])
                with self.pg.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (self.role,)
                    )
                    (connections,) = cur.fetchone()  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001 - kept and asserted on
                self.peaks.errors.append(repr(exc))
                time.sleep(0.2)
                continue
            peaks = self.peaks
            peaks.redis = max(peaks.redis, clients)
            peaks.postgres = max(peaks.postgres, connections)
            peaks.redis_memory = max(peaks.redis_memory, memory)
            peaks.samples += 1
            self.stopped.wait(0.05)

    def stop(self) -> Peaks:
        self.stopped.set()
        self.join(5)
        self.redis.close()
        self.pg.close()
        return self.peaks


@dataclass
class Stack:
    redis_url: str
    database_url: str
    admin_dsn: str
    role: str
    redis_log: Path


def _start_redis(tmp: Path, plan: Plan) -> tuple[str, subprocess.Popen[bytes]]:
    sock = tmp / "redis.sock"
    proc = subprocess.Popen(
        [
            redis_server_binary(), "--port", "0", "--unixsocket", str(sock),
            "--unixsocketperm", "700", "--dir", str(tmp), "--save", "", "--appendonly", "no",
            "--maxclients", str(plan.redis_clients), "--maxmemory", plan.redis_memory,
            "--maxmemory-policy", "noeviction", "--logfile", str(tmp / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"unix://{sock}"

    def answers() -> bool:
        try:
            return bool(Redis.from_url(url).ping())
        except (RedisError, OSError):
            return False

    wait_for(answers, timeout=10)
    return url, proc


@pytest.fixture
def limited(
    service_urls: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Fresh Redis and Postgres limited as ``request.param`` (a Plan) says."""
    plan: Plan = request.param
    admin = make_url(normalize_database_url(service_urls[0]))
    admin_dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    suffix = uuid.uuid4().hex[:8]
    role, database = f"fq_plan_{suffix}", f"fq_plan_{suffix}"
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
    command.upgrade(alembic_config(database_url), "head")  # the release phase
    redis_url, redis_proc = _start_redis(tmp_path, plan)
    try:
        yield Stack(redis_url, database_url, admin_dsn, role, tmp_path / "redis.log")
    finally:
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


def _app_json_env(stack: Stack, worker_env: dict[str, str], plan: Plan) -> dict[str, str]:
    app_json = json.loads((ROOT / "app.json").read_text())
    env = {
        k: v for k, v in worker_env.items()
        if k in {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env.update(
        {name: spec["value"] for name, spec in app_json["env"].items() if "value" in spec}
    )
    env.update(
        DATABASE_URL=stack.database_url,
        REDIS_URL=stack.redis_url,
        SECRET_KEY="plan-limits-test",  # app.json generates one
        QUEUE_PREFIX="feedqueue",
        LOG_LEVEL="INFO",
        # One machine, one client, one feed server: see the module docstring.
        FETCH_ALLOW_PRIVATE_NETWORKS="true",
        FETCH_HOST_CONCURRENCY="100000",
        FETCH_HOST_PER_MINUTE="100000000",
        SUBMIT_RATE_LIMIT="100000 per minute",
        SCHEDULE_EVERY_SECONDS="1",
        REDIS_MAX_CONNECTIONS=str(plan.redis_clients),
        DATABASE_MAX_CONNECTIONS=str(plan.postgres_connections),
        WORKER_DYNOS=str(plan.worker_dynos),
    )
    return env


def _due_feeds(db: Database, feed_server: FeedServer, count: int) -> None:
    due = datetime.now(UTC) - timedelta(seconds=5)
    with db.session() as session:
        session.execute(
            insert(Feed),
            [
                {
                    "url": feed_server.add(f"/due/{i}.xml", RSS),
                    "current_url": feed_server.url(f"/due/{i}.xml"),
                    "state": FeedState.ACTIVE,
                    "next_fetch_at": due,
                }
                for i in range(count)
            ],
        )
        session.commit()


def _fetch_states(db: Database) -> dict[FetchState, int]:
    with db.session() as session:
        rows = session.execute(select(Fetch.state, func.count()).group_by(Fetch.state))
        return {state: count for state, count in rows}


PLANS = [
    pytest.param(Plan(20, "25mb", 20, worker_dynos=1), id="mini-essential0-one-worker-dyno"),
    pytest.param(Plan(40, "50mb", 40, worker_dynos=2), id="premium0-essential2-two-worker-dynos"),
]


# About a minute each on a quiet machine; more room where test runs share the cores.
@pytest.mark.timeout(240)
@pytest.mark.parametrize("limited", PLANS, indirect=True)
def test_the_stack_fits_the_plans_under_load(
    limited: Stack, worker_env: dict[str, str], feed_server: FeedServer, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    plan: Plan = request.node.callspec.params["limited"]
    env = _app_json_env(limited, worker_env, plan)
    db = Database(limited.database_url, pool_size=1)
    sampler = Sampler(limited.redis_url, limited.admin_dsn, limited.role)
    sampler.start()
    dynos: list[WebDyno | WorkerDyno] = []
    try:
        web = WebDyno(env, tmp_path / "web.log", workers=2)  # WEB_CONCURRENCY on basic
        dynos.append(web)
        wait_for(web.healthy, timeout=30)
        for i in range(plan.worker_dynos):
            dynos.append(WorkerDyno(env, tmp_path / f"worker-{i}.log", concurrency=2))
        _due_feeds(db, feed_server, REFRESHES)
        follow_all(db)  # the scheduler refreshes only feeds someone follows
        with db.session() as session:
            token = create_token(session, add_user(db), "plan test").secret
        auth = {"Authorization": f"Bearer {token}"}

        def submit(i: int) -> int:
            url = feed_server.add(f"/new/{i}.xml", RSS)
            return requests.post(
                f"{web.base_url}/feeds", json={"url": url}, headers=auth, timeout=30
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(submit, range(SUBMISSIONS)))
        assert statuses == [202] * SUBMISSIONS

        def all_done() -> bool:
            states = _fetch_states(db)
            return states.get(FetchState.SUCCEEDED, 0) == SUBMISSIONS + REFRESHES
        wait_for(all_done, timeout=150, interval=0.5)
        assert set(_fetch_states(db)) == {FetchState.SUCCEEDED}  # every fetch terminal, none lost
    finally:
        peaks = sampler.stop()
        for dyno in dynos:
            dyno.kill()
        db.dispose()
    logs = {path.name: path.read_text() for path in [*tmp_path.glob("*.log")]}
    for name, text in logs.items():
        bad = [line for line in text.splitlines() if any(b in line for b in BAD_LOG_LINES)]
        assert not bad, f"{name}: {bad[:5]}"
    redis_target, postgres_target = plan.target
    print(f"peaks: {peaks}")  # shown with -s, and in the report of a failure
    assert peaks.samples > 20 and not peaks.errors
    assert peaks.redis <= redis_target, peaks
    assert peaks.postgres <= postgres_target, peaks

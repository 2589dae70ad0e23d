"""Readiness (``/readyz``) and Prometheus metrics (``/metrics``) endpoints.

``/healthz`` (in pages.py) says the process answers; ``/readyz`` says its
dependencies do: Postgres runs ``SELECT 1`` under a one-second statement
timeout and Redis answers PING, both over dedicated connections with
one-second timeouts, so a probe never waits behind the app's pools.

``/metrics`` is for a Prometheus scraper: it needs the admin credentials or
``Authorization: Bearer <METRICS_TOKEN>``, and does not exist (404) when
neither is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.observability import metrics, request_log
from app.observability.collectors import scrape
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.web import settings as app_settings
from app.web.errors import error_response
from app.web.security import admin_required

bp = Blueprint("health", __name__)

P = ParamSpec("P")
R = TypeVar("R")

PROBE_TIMEOUT = 1  # seconds, for each dependency
RETRY_AFTER = "10"


class Probes:
    """Dedicated, fast-failing connections for readiness checks and queue scrapes."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url and settings.redis_url
        # NullPool: each probe opens and closes its own connection, so a probe
        # tests that a new connection can be made, and holds none in between.
        self.engine: Engine = create_engine(
            settings.database_url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": PROBE_TIMEOUT,
                "application_name": "feedqueue-probe",
                "options": f"-c statement_timeout={PROBE_TIMEOUT * 1000}",
            },
        )
        self.redis: Redis = redis_from_url(
            settings.redis_url,
            socket_connect_timeout=PROBE_TIMEOUT,
            socket_timeout=PROBE_TIMEOUT,
            health_check_interval=0,
            retry=Retry(NoBackoff(), 0),
        )
        self.queues = Queues(self.redis, settings)

    def postgres(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def redis_ping(self) -> None:
        self.redis.ping()


def init_app(app: Flask, settings: Settings) -> None:
    """Install request observation, the probes and this blueprint on ``app``."""
    request_log.init_app(app)
    app.extensions["feedqueue.probes"] = Probes(settings)
    app.register_blueprint(bp)
    metrics.process_started("web", settings.runtime_metrics_interval)


def _probes() -> Probes:
    return current_app.extensions["feedqueue.probes"]


@bp.get("/readyz")
def readyz() -> Response:
    """200 when Postgres and Redis answer; 503 naming the failed checks otherwise."""
    probes = _probes()
    checks: dict[str, str] = {}
    for name, check in (("postgres", probes.postgres), ("redis", probes.redis_ping)):
        try:
            check()
        except Exception as exc:  # any failure means not ready; the class name is enough
            checks[name] = f"failed: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        response = jsonify(status="unavailable", checks=checks, failed=failed)
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER
    else:
        response = jsonify(status="ok", checks=checks)
    response.headers["Cache-Control"] = "no-store"
    return response


def metrics_access(view: Callable[P, R]) -> Callable[P, R]:
    """Admit a matching ``Bearer`` METRICS_TOKEN, else require the admin credentials."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        settings = app_settings()
        if settings.metrics_token:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), settings.metrics_token.encode()
            ):
                return view(*args, **kwargs)
            if not settings.admin_enabled:
                response = error_response(401, "unauthorized", "A metrics token is required.")
                response.headers["WWW-Authenticate"] = 'Bearer realm="feedqueue metrics"'
                abort(response)
        return admin_required(view)(*args, **kwargs)

    return wrapper


@bp.get("/metrics")
@metrics_access
def prometheus_metrics() -> Response:
    """Prometheus text (format 0.0.4, read by every Prometheus) of this dyno and the queues."""
    metrics.sample_process("web")
    probes = _probes()
    settings = app_settings()
    body = scrape(
        probes.queues.in_priority_order,
        dyno=settings.dyno_name("web"),
        redis=probes.redis,
        prefix=settings.queue_prefix,
    )
    return Response(
        body, content_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"}
    )

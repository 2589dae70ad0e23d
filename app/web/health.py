"""Readiness (``/readyz``) and Prometheus metrics (``/metrics``) endpoints.

``/healthz`` (in pages.py) says the process answers; ``/readyz`` says its
dependencies do: Postgres runs ``SELECT 1`` under a one-second statement
timeout and Redis answers PING, both over dedicated connections with
one-second timeouts (app.extensions.Probes), so a probe never waits behind the
app's pools.

``/metrics`` is for a Prometheus scraper: it needs the admin credentials or
``Authorization: Bearer <METRICS_TOKEN>``, and does not exist (404) when
neither is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, Response, abort, jsonify, request
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from app.observability import metrics
from app.observability.collectors import scrape
from app.web.helpers import basic_admin_required, error_response, probes, public, settings

bp = Blueprint("health", __name__)

P = ParamSpec("P")
R = TypeVar("R")

RETRY_AFTER = "10"


@bp.get("/readyz")
def readyz() -> Response:
    """200 when Postgres and Redis answer; 503 naming the failed checks otherwise."""
    checks: dict[str, str] = {}
    for name, check in (("postgres", probes().postgres), ("redis", probes().redis_ping)):
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
        config = settings()
        if config.metrics_token:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), config.metrics_token.encode()
            ):
                return view(*args, **kwargs)
            if not config.admin_enabled:
                response = error_response(401, "unauthorized", "A metrics token is required.")
                response.headers["WWW-Authenticate"] = 'Bearer realm="feedqueue metrics"'
                abort(response)
        return basic_admin_required(view)(*args, **kwargs)

    return wrapper


@bp.get("/metrics")
@public
@metrics_access
def prometheus_metrics() -> Response:
    """Prometheus text (format 0.0.4, read by every Prometheus) of this dyno and the queues."""
    metrics.sample_process("web")
    config = settings()
    body = scrape(
        probes().queues.in_priority_order,
        dyno=config.dyno_name("web"),
        redis=probes().redis,
        prefix=config.queue_prefix,
    )
    return Response(
        body, content_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"}
    )

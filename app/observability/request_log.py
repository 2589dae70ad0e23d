"""Per-request observation for the web: X-Request-ID, one logfmt line, latency histogram.

Heroku's router gives every request an ``X-Request-ID``; it is kept (or one
is made up when absent or malformed), put on the response and on the log
line, so a router log line, our line and a client's report can be matched.
Only the path is logged: query strings and bodies may carry secrets.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from app.logs import event
from app.observability import metrics

log = logging.getLogger("feedqueue.request")

HEADER = "X-Request-ID"
# Heroku's ids are UUIDs; other proxies use similar tokens. Anything else
# (too long, spaces, control characters) is replaced rather than echoed.
_VALID_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,200}")


def request_id() -> str:
    """This request's id (valid only inside a request)."""
    return g.get("request_id") or ""


def init_app(app: Flask) -> None:
    """Install the hooks; call before other hooks so timing covers theirs."""

    @app.before_request
    def _begin() -> None:
        g.request_started = time.perf_counter()
        incoming = request.headers.get(HEADER, "")
        g.request_id = incoming if _VALID_ID.fullmatch(incoming) else str(uuid.uuid4())
        metrics.request_started()
        g.request_counted = True

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("request_started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        response.headers[HEADER] = g.get("request_id") or str(uuid.uuid4())
        metrics.request_finished(request.method, route, response.status_code, seconds)
        event(
            log,
            method=request.method,
            path=request.path,
            route=route,
            status=response.status_code,
            duration_ms=round(seconds * 1000, 1),
            request_id=response.headers[HEADER],
        )
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        if g.pop("request_counted", False):
            metrics.request_ended()

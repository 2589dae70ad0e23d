"""Errors as the HTTP contract promises: JSON ``{"error": {"code", "message"}}`` for
API clients, a readable page for browsers, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from flask import Flask, Request, Response, request
from flask.json.provider import DefaultJSONProvider
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.web.helpers import ApiError, error_response

log = logging.getLogger(__name__)

# Stable codes for the statuses Werkzeug raises on its own.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


INVALID_JSON = "The body is not valid JSON (or is nested too deeply)."


class BoundedJSONProvider(DefaultJSONProvider):
    """JSON whose reading fails as bad input, not as a crash, however deep it nests.

    ``json.loads`` raises RecursionError (not ValueError) on a document nested
    a few thousand levels deep, and ``get_json(silent=True)`` only catches
    ValueError: any endpoint reading JSON would answer 500.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class AppRequest(Request):
    """Flask's request, whose unreadable JSON body is the contract's 400 ``invalid_json``."""

    def on_json_loading_failed(self, e: ValueError | None) -> NoReturn:
        if e is None:  # not a JSON content type: Flask's 415
            super().on_json_loading_failed(e)
        raise ApiError(400, "invalid_json", INVALID_JSON)


def register(app: Flask) -> None:
    """Install the error handlers on ``app``, and JSON reading that cannot crash it."""
    app.json = BoundedJSONProvider(app)
    app.request_class = AppRequest

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return error_response(err.status, err.code, err.message, err.headers)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        status = err.code or 500
        code = _HTTP_CODES.get(status, f"http_{status}")
        headers = {k: v for k, v in err.get_headers() if k.lower() in ("allow", "retry-after")}
        return error_response(status, code, err.description or err.name, headers)

    @app.errorhandler(RedisError)
    def _redis_down(err: RedisError) -> Response:
        log.warning("redis unavailable during %s %s: %s", request.method, request.path, err)
        return error_response(
            503,
            "queue_unavailable",
            "The job queue is unavailable; try again shortly.",
            {"Retry-After": "5"},
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _db_down(err: DBAPIError) -> Response:
        log.warning("database error during %s %s: %s", request.method, request.path, err.orig)
        return error_response(
            503,
            "database_unavailable",
            "The database is unavailable; try again shortly.",
            {"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        log.exception("unhandled error during %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")

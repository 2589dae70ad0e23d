"""The Fever API at ``/api/fever.php`` (FreshRSS's path) and ``/fever/`` (Miniflux's).

A Fever client POSTs ``api_key`` = md5("username:app-password") in a form body
with flags in the query (``?api&items&since_id=…``); every answer is JSON with
``api_version`` and ``auth``. A wrong or missing key is ``auth: 0`` (200), as
clients expect, never an error page. Failed keys count per client against
LOGIN_RATE_LIMIT; past it every request gets 429 until the window ends.

The view is marked public: it ignores the session cookie (so it needs no CSRF
token) and reads only its own key. The answers are app.services.fever's.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from app.services import fever
from app.services.app_passwords import user_for_fever_key
from app.web.helpers import charge_failed_login, db_session, over_failed_logins, public

bp = Blueprint("fever", __name__)

#: The rate limiter's counter of failed Fever keys.
FAILED_KEYS = "fever-auth"


def _json(body: dict[str, object], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _answer() -> Response:
    unauthenticated = {"api_version": fever.API_VERSION, "auth": 0}
    if over_failed_logins(FAILED_KEYS):
        response = _json(unauthenticated, 429)
        response.headers["Retry-After"] = "60"
        return response
    api_key = request.form.get("api_key") or request.args.get("api_key") or ""
    session = db_session()
    user = user_for_fever_key(session, api_key.strip())
    if user is None:
        if api_key:  # a request without a key is no failed attempt
            charge_failed_login(FAILED_KEYS)
        return _json(unauthenticated)
    g.user = user
    params = {**request.args.to_dict(), **request.form.to_dict()}
    params.pop("api_key", None)
    try:
        return _json(fever.answer(session, user.id, params))
    except fever.Invalid as err:
        session.rollback()
        body = {"api_version": fever.API_VERSION, "auth": 1}
        body["error"] = {"code": err.code, "message": err.message}
        return _json(body, 400)


@bp.route("/api/fever.php", methods=["GET", "POST"])
@public
def fever_php() -> Response:
    """The Fever API where FreshRSS serves it (clients' default path)."""
    return _answer()


@bp.route("/fever/", methods=["GET", "POST"])
@public
def fever_miniflux() -> Response:
    """The Fever API where Miniflux serves it."""
    return _answer()

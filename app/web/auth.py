"""Who is asking: sign-in, sign-up, sign-out, and the guard in front of every other view.

A request is someone's by, in this order: an ``Authorization: Bearer`` API token,
HTTP Basic with their user name and password (as Miniflux's API accepts), or the
signed session cookie set at sign-in. Every endpoint needs someone, except those
in :data:`PUBLIC_ENDPOINTS` (sign-in and sign-up pages, health checks, static
files, the API description, /metrics with its own credentials). The guard runs
before every view, so a new endpoint is private unless listed there.

Anonymous JSON clients get 401 with ``WWW-Authenticate: Bearer`` (never Basic:
a browser would then prompt and keep the credentials); pages redirect to sign-in.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from limits import parse_many
from werkzeug.datastructures import Authorization

from app.extensions import client_key, limiter
from app.services import accounts
from app.storage.models import User
from app.storage.users import get_user
from app.web.helpers import (
    ApiError,
    db_session,
    login_limit,
    settings,
    start_session,
    wants_json,
)

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: Endpoints anyone may reach; every other one needs a signed-in person (or is marked
#: :func:`public` and checks credentials of its own, as /metrics does).
PUBLIC_ENDPOINTS = frozenset(
    {"auth.signin", "auth.signup", "pages.healthz", "health.readyz", "docs.openapi", "static"}
)

def _is_public(app: Flask, endpoint: str) -> tuple[bool, bool]:
    """(anyone may reach it, it reads its own Authorization header)."""
    if endpoint in PUBLIC_ENDPOINTS:
        return True, False
    own = getattr(app.view_functions.get(endpoint), "own_credentials", False)
    return own, own


def _basic_allowed() -> bool:
    """Count a failed HTTP Basic sign-in against LOGIN_RATE_LIMIT; False when over it."""
    try:
        strategy = limiter.limiter
        key = f"basic-auth/{client_key()}"
        return all(strategy.hit(item, key) for item in parse_many(login_limit()))
    except Exception:  # noqa: BLE001 - the limiter's storage is down: let the request through
        log.warning("login rate limit unavailable", exc_info=True)
        return True


def _from_header(auth: Authorization) -> None:
    """Identify the request by its Authorization header (g.user_id, or g.user); 401 if wrong."""
    if auth.type == "bearer":
        # Only the id: most API requests need no more (app.web.helpers.signed_in_user).
        g.user_id = accounts.user_id_for_token(db_session(), auth.token or "")
        if g.user_id is None:
            raise ApiError(401, "invalid_token", "This API token is not valid (revoked?).")
        return
    if auth.type == "basic":
        user = accounts.authenticate(db_session(), auth.username, auth.password)
        if user is None:
            if not _basic_allowed():
                raise ApiError(429, "rate_limited", "Too many failed sign-ins; wait a minute.")
            raise ApiError(401, "invalid_credentials", "The user name or password is wrong.")
        g.user = user
        return
    raise ApiError(401, "unsupported_authorization", "Use a Bearer token or HTTP Basic.")


def _from_session() -> User | None:
    user_id = session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = get_user(db_session(), user_id)
    # A password change (or a deleted account) ends every other session.
    if user is None or session.get("fp") != accounts.session_fingerprint(user):
        session.clear()
        return None
    return user


def _unauthorized() -> Response:
    if wants_json() or request.authorization is not None:
        raise ApiError(
            401,
            "unauthorized",
            "Sign in, or send an API token (Authorization: Bearer) or HTTP Basic credentials.",
            {"WWW-Authenticate": 'Bearer realm="feedqueue"'},
        )
    target = request.full_path if request.method == "GET" else "/"
    return redirect(url_for("auth.signin", next=target.rstrip("?")), code=303)


def init_app(app: Flask) -> None:
    """Put every non-public endpoint behind sign-in."""

    @app.before_request
    def _identify() -> Response | None:
        if request.endpoint is None:
            return None  # a 404 or 405: the error handler answers
        anyone, own_credentials = _is_public(app, request.endpoint)
        if anyone:
            if not own_credentials:
                g.user = _from_session()
            return None
        if request.authorization is not None:
            _from_header(request.authorization)
        else:
            g.user = _from_session()
            if g.user is None:
                return _unauthorized()
        return None


def _safe_next(raw: str | None) -> str:
    """Where to go after sign-in: a path on this site only."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return url_for("river.page")
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return url_for("river.page")
    return raw


def _form_page(template: str, status: int = 200, **context: object) -> Response:
    html = render_template(template, **context)
    return Response(html, status=status, mimetype="text/html")


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def signin() -> Response:
    """The sign-in form; a right name and password start a session."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.get("user") is not None:
            return redirect(next_url, code=303)
        first_run = accounts.no_accounts(db_session())
        return _form_page("signin.html", next=next_url, first_run=first_run)
    username = request.form.get("username", "")
    user = accounts.authenticate(db_session(), username, request.form.get("password", ""))
    if user is None:
        return _form_page(
            "signin.html",
            401,
            next=next_url,
            username=username[:100],
            error="The user name or password is wrong.",
        )
    start_session(user)
    return redirect(next_url, code=303)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def signup() -> Response:
    """The sign-up form (closed by SIGNUP_ENABLED=false once the admin exists)."""
    config = settings()
    open_ = config.signup_enabled or accounts.no_accounts(db_session())
    if request.method == "GET":
        return _form_page("signup.html", open=open_, min_length=config.password_min_length)
    username = request.form.get("username", "")
    try:
        user = accounts.sign_up(db_session(), config, username, request.form.get("password"))
    except accounts.AccountError as err:
        status = 403 if err.code == "signup_disabled" else 400
        return _form_page(
            "signup.html",
            status,
            open=open_,
            min_length=config.password_min_length,
            username=username[:100],
            error=err.message,
        )
    start_session(user)
    return redirect(url_for("river.page"), code=303)


@bp.post("/signout")
def signout() -> Response:
    """End the session."""
    session.clear()
    return redirect(url_for("auth.signin"), code=303)

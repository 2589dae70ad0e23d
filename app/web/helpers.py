"""What every blueprint may use: the request's resources, error answers, access rules,
and the few answers two blueprints give alike.

Blueprints import this module (and the presentation modules serializers, wording,
charts), never each other, so any blueprint can move or go without touching the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Response, abort, g, jsonify, render_template, request, session
from limits import parse_many
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from app.config import Settings
from app.extensions import Probes, client_key, feedqueue, limiter
from app.queue.queues import Queues
from app.services.accounts import session_fingerprint
from app.storage.feeds import get_feed
from app.storage.fetches import pending_fetches
from app.storage.models import MAX_ID, Feed, Fetch, FetchState, User
from app.storage.subscriptions import is_subscribed, subscriptions_of
from app.storage.users import get_user
from app.web import wording
from app.web.serializers import fetch_json
from app.web.sidebar import sidebar

P = ParamSpec("P")
R = TypeVar("R")

#: Feeds listed on the home page (the person's, newest subscription first).
FEEDS_ON_HOME = 200


# -- the request's resources ------------------------------------------------------------


def settings() -> Settings:
    """The settings of the app answering this request."""
    return feedqueue.current.settings


def queues() -> Queues:
    """The app's RQ queues."""
    return feedqueue.current.queues


def probes() -> Probes:
    """The readiness probes' connections (also used by the /metrics scrape)."""
    return feedqueue.current.probes


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    return feedqueue.session()


def wants_json() -> bool:
    """True when the client asked for JSON rather than a page."""
    json_paths = ("/api/", "/fetches/", "/fever/", "/reader/api/", "/accounts/")
    if request.path.startswith(json_paths) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


# -- errors ----------------------------------------------------------------------------------


class ApiError(Exception):
    """An error with a stable code, raised by views and turned into a response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """Build the error answer in the form the client asked for."""
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        response = Response(
            render_template("error.html", status=status, code=code, message=message),
            mimetype="text/html",
        )
    response.status_code = status
    response.headers.update(headers or {})
    return response


# -- access ----------------------------------------------------------------------------------


#: The per-client counter that submissions, refreshes and OPML imports share.
SUBMISSION_SCOPE = "submissions"
#: The per-client counter of failed admin logins.
ADMIN_AUTH_SCOPE = "admin-auth"


def submission_limit() -> str:
    """Per-client limit on submissions and refreshes (SUBMIT_RATE_LIMIT)."""
    return settings().submit_rate_limit


def rate_limited(view: Callable[P, R]) -> Callable[P, R]:
    """Hold a view that queues or changes work to SUBMIT_RATE_LIMIT per client.

    One counter per client for every such view: a client cannot get a fresh
    budget by switching from POST /feeds to refreshes or OPML imports.
    """
    return limiter.shared_limit(submission_limit, scope=SUBMISSION_SCOPE)(view)


def _limit_args(scope: str) -> list[str]:
    """Flask-Limiter's own identifiers for a shared limit: key prefix, client, scope.

    The prefix is the one the limiter uses: the extension is one object per process,
    and it keeps the prefix of the first app it was bound to.
    """
    prefix = getattr(limiter, "_key_prefix", "") or ""
    return [prefix, client_key(), scope] if prefix else [client_key(), scope]


def _charge(limit_text: str, scope: str) -> bool:
    """Count one hit against ``limit_text`` for this client in ``scope``; False when over.

    For what a view counts after its start (each feed of an OPML file, each failed
    login): the same storage and keys as Flask-Limiter's own counters.
    """
    try:
        return all(
            limiter.limiter.hit(item, *_limit_args(scope)) for item in parse_many(limit_text)
        )
    except RedisError:
        return True  # as RATELIMIT_SWALLOW_ERRORS: a Redis outage does not lock clients out


def _over(limit_text: str, scope: str) -> bool:
    """True when this client has no hit left in ``scope`` (nothing counted)."""
    try:
        return not all(
            limiter.limiter.test(item, *_limit_args(scope)) for item in parse_many(limit_text)
        )
    except RedisError:
        return False


def over_failed_logins(scope: str) -> bool:
    """True when this client spent its LOGIN_RATE_LIMIT of failed logins in ``scope``."""
    return _over(login_limit(), scope)


def charge_failed_login(scope: str) -> None:
    """Count one failed login of this client in ``scope`` against LOGIN_RATE_LIMIT."""
    _charge(login_limit(), scope)


def charge_submission() -> bool:
    """Count one more submission of this client (an OPML file's feed); False when over."""
    return _charge(submission_limit(), SUBMISSION_SCOPE)


V = TypeVar("V", bound=Callable[..., object])


def public(view: V) -> V:
    """Mark a view anyone may reach that checks credentials of its own: the sign-in guard
    (app.web.auth) then leaves its Authorization header alone. /metrics, for scrapers."""
    view.own_credentials = True  # type: ignore[attr-defined]
    return view


def login_limit() -> str:
    """Per-client limit on sign-in, sign-up and password attempts (LOGIN_RATE_LIMIT)."""
    return settings().login_rate_limit


def start_session(user: User) -> None:
    """Sign ``user`` in: a new session (and CSRF token) bound to their password."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["fp"] = session_fingerprint(user)


def current_user_id() -> int:
    """The signed-in person's id (app.web.auth's guard admits no one else to a private
    view), without loading their account."""
    user = g.get("user")
    if user is not None:
        return int(user.id)
    user_id = g.get("user_id")
    if user_id is None:
        raise ApiError(401, "unauthorized", "Sign in first.")
    return int(user_id)


def signed_in() -> bool:
    """Whether someone is signed in (an API token, a session or HTTP Basic)."""
    return g.get("user") is not None or g.get("user_id") is not None


def signed_in_user() -> User | None:
    """The signed-in person's account, or None. A request signed with an API token knows
    only the id (app.web.auth): the account is read here, the first time it is asked for."""
    user = g.get("user")
    if user is None and g.get("user_id") is not None:
        user = g.user = get_user(db_session(), g.user_id)
    return user


def current_user() -> User:
    """The signed-in person's account (for their id alone, :func:`current_user_id`)."""
    user = signed_in_user()
    if user is None:
        raise ApiError(401, "unauthorized", "Sign in first.")
    return user


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Only for an admin account: others get 403."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_user().is_admin:
            raise ApiError(403, "admin_only", "Only an admin may do this.")
        return view(*args, **kwargs)

    return wrapper


def basic_admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require ADMIN_USER / ADMIN_PASSWORD as HTTP Basic (for scrapers of /metrics);
    404 when they are not configured. Mark the view app.web.auth.public too: the
    sign-in guard then leaves its Authorization header to it.

    Failed attempts count per client against ADMIN_AUTH_RATE_LIMIT; over it, every
    attempt (right or wrong) gets 429 until the window ends, so the password
    cannot be guessed at the speed of the web.
    """

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        config = settings()
        if not config.admin_enabled:
            abort(404)
        if _over(config.admin_auth_rate_limit, ADMIN_AUTH_SCOPE):
            abort(
                error_response(
                    429,
                    "rate_limited",
                    "Too many failed admin logins from this address; try again later.",
                    {"Retry-After": "60"},
                )
            )
        auth = request.authorization
        user_ok = _same_secret(auth.username if auth else None, config.admin_user)
        password_ok = _same_secret(auth.password if auth else None, config.admin_password)
        if not (auth and auth.type == "basic" and user_ok and password_ok):
            if auth is not None:  # a browser's first, credential-less request is no failure
                _charge(config.admin_auth_rate_limit, ADMIN_AUTH_SCOPE)
            response = error_response(401, "unauthorized", "Admin credentials required.")
            response.headers["WWW-Authenticate"] = 'Basic realm="feedqueue admin"'
            abort(response)
        return view(*args, **kwargs)

    return wrapper


def _same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two strings of any length and alphabet.

    Comparing SHA-256 digests keeps the time independent of the length of either
    value; encoding first matters because ``compare_digest`` refuses non-ASCII str.
    """
    given_digest = hashlib.sha256((given or "").encode("utf-8", "surrogateescape")).digest()
    expected_digest = hashlib.sha256((expected or "").encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(given_digest, expected_digest)


# -- answers shared by blueprints --------------------------------------------------------------


#: The most items or feeds one page of an answer holds (``?limit=``).
MAX_PAGE = 100


def id_arg(source: Mapping[str, str], name: str) -> int | None:
    """The positive id ``source[name]`` (query string or form), None when absent or empty;
    anything else is a 400 ``invalid_<name>``."""
    raw = source.get(name) or ""
    if raw == "":
        return None
    # isdigit() accepts "²" and other digits int() refuses: match ASCII only.
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not 0 < int(raw) <= MAX_ID:
        raise ApiError(400, f"invalid_{name}", f"{name} must be a positive id.")
    return int(raw)


def page_limit(raw: str) -> int:
    """A page size from ``?limit=``'s text: 1 to MAX_PAGE, else a 400 ``invalid_limit``."""
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_limit", f"limit must be a number from 1 to {MAX_PAGE}.")
    return int(raw)


def page_cursor() -> str | None:
    """``?cursor=`` as given (storage decodes it), None when absent; an overlong one is a
    400 ``invalid_cursor`` before it reaches storage."""
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise ApiError(400, "invalid_cursor", "The cursor is not valid.")
    return cursor


def get_feed_or_404(feed_id: int) -> Feed:
    """The feed, if the signed-in person follows it; else a 404 API error (also for ids
    beyond the column's range): someone else's feed does not exist for them."""
    session = db_session()
    if not is_subscribed(session, current_user_id(), feed_id):
        raise ApiError(404, "feed_not_found", f"There is no feed {feed_id}.")
    feed = get_feed(session, feed_id)
    if feed is None:
        raise ApiError(404, "feed_not_found", f"There is no feed {feed_id}.")
    return feed


def any_feed_or_404(feed_id: int) -> Feed:
    """Any feed, followed or not (for admin views only), or a 404 API error."""
    feed = get_feed(db_session(), feed_id)
    if feed is None:
        raise ApiError(404, "feed_not_found", f"There is no feed {feed_id}.")
    return feed


def fetch_status(
    fetch: Fetch, *, just_enqueued: bool = False
) -> tuple[dict[str, object], dict[str, str]]:
    """The fetch's JSON and the headers that go with it (Retry-After while pending)."""
    headers = {"Cache-Control": "no-store"}
    position = None
    if fetch.state.pending:
        if fetch.state == FetchState.QUEUED:
            try:
                position = queues().position(
                    str(fetch.id), fetch.trigger.value, just_enqueued=just_enqueued
                )
            except RedisError:
                position = None  # the status itself comes from Postgres
        # Poll gently: about once a second, slower when far back in the queue.
        headers["Retry-After"] = str(min(10, 1 + (position or 0) // 50))
    return fetch_json(fetch, queue_position=position), headers


def render_home(*, form_error: str | None = None, submitted_url: object = "") -> Response:
    """The home page (form and feed list); with ``form_error``, a 400 showing the error
    beside the field, which keeps what was typed."""
    session = db_session()
    # Newest subscription first, as a person expects right after adding a feed.
    subs = sorted(subscriptions_of(session, current_user_id()), key=lambda sub: -sub.id)
    feeds = [sub.feed for sub in subs][:FEEDS_ON_HOME]
    pending = pending_fetches(session, (f.id for f in feeds))
    rows = [
        (feed, pending.get(feed.id), wording.badge_key(feed, pending.get(feed.id)))
        for feed in feeds
    ]
    # The sidebar's unread counts, per feed and per folder, on the feed list too.
    counts = sidebar(session, current_user_id())
    typed = submitted_url if isinstance(submitted_url, str) else ""
    html = render_template(
        "index.html",
        rows=rows,
        counts=counts,
        unread=counts.unread_by_feed(),
        form_error=form_error,
        submitted_url=typed[:2048],
    )
    return Response(html, status=400 if form_error else 200, mimetype="text/html")

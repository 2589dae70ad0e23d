"""The Google Reader API, where Miniflux and Inoreader serve it (``/accounts/ClientLogin``,
``/reader/api/0/...``) and under FreshRSS's ``/api/greader.php/``: one blueprint,
registered at both places.

An app signs in with ``ClientLogin`` (user name and app password), then sends
``Authorization: GoogleLogin auth=<token>`` with every call. A missing or bad
token is 401; a wrong ``T`` token on an edit is 401 with
``X-Reader-Google-Bad-Token: true`` (the app fetches a new one). Failed
ClientLogins count per client against LOGIN_RATE_LIMIT. Views are marked public:
they ignore the session cookie (so they need no CSRF token) and read only their
own credentials. The answers are app.services.greader's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, g, jsonify, request

from app.opml import MAX_BYTES
from app.services import greader, greader_auth, greader_streams, greader_subscriptions
from app.services.greader_auth import Login
from app.services.greader_ids import Invalid, feed_stream
from app.services.greader_streams import StreamArgs
from app.services.submissions import QueueFull, QueueUnavailable
from app.web.helpers import (
    charge_failed_login,
    charge_submission,
    db_session,
    over_failed_logins,
    public,
    queues,
    settings,
)

bp = Blueprint("greader", __name__)

#: The rate limiter's counter of failed ClientLogins.
FAILED_LOGINS = "greader-auth"
API = "/reader/api/0"
_AUTH_HEADER = re.compile(r"GoogleLogin\s+auth=(\S+)", re.IGNORECASE)
BOTH = ["GET", "POST"]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status, headers)


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def _arg(name: str) -> str | None:
    return request.values.get(name)


def _args(name: str) -> list[str]:
    return request.values.getlist(name)


def _authenticated(view: Callable[..., Response]) -> Callable[..., Response]:
    """The view, given who the Authorization header's token belongs to; 401 without one,
    and for an edit (POST) with a wrong ``T`` token."""

    @wraps(view)
    def wrapper(**path_args: str | None) -> Response:
        header = request.headers.get("Authorization", "").strip()
        match = _AUTH_HEADER.fullmatch(header)
        token = match.group(1) if match else None
        if not header and request.method == "POST":
            token = _arg("T")  # as Miniflux takes a POST's: T is the Auth token
        login = greader_auth.login_for_token(db_session(), settings(), token) if token else None
        if login is None:
            return _error(
                401,
                "unauthorized",
                "Sign in with ClientLogin and send Authorization: GoogleLogin auth=<token>.",
                **{"WWW-Authenticate": 'GoogleLogin realm="feedqueue"'},
            )
        g.user = login.user
        if request.method == "POST" and not greader_auth.edit_token_ok(
            settings(), login, _arg("T")
        ):
            return _error(
                401,
                "bad_token",
                "The T token is not this session's; get one from /token.",
                **{"X-Reader-Google-Bad-Token": "true"},
            )
        try:
            return view(login, **path_args)
        except Invalid as err:
            db_session().rollback()
            return _error(err.status, err.code, err.message)
        except QueueUnavailable:
            db_session().rollback()
            return _error(
                503,
                "queue_unavailable",
                "The job queue is unavailable; nothing was saved. Try again shortly.",
                **{"Retry-After": "5"},
            )
        except QueueFull as err:
            return _error(
                503,
                "queue_full",
                f"Too much work is waiting; nothing was saved. ({err.message})",
                **{"Retry-After": str(err.retry_after)},
            )

    return public(wrapper)


@bp.route("/accounts/ClientLogin", methods=BOTH)
@public
def client_login() -> Response:
    """Sign in with ``Email`` (the user name) and ``Passwd`` (an app password)."""
    if over_failed_logins(FAILED_LOGINS):
        response = _text("Error=BadAuthentication\n", 429)
        response.headers["Retry-After"] = "60"
        return response
    email, passwd = _arg("Email"), _arg("Passwd")
    login = greader_auth.client_login(db_session(), settings(), email, passwd)
    if login is None:
        if email or passwd:  # a request without credentials is no failed attempt
            charge_failed_login(FAILED_LOGINS)
        return _text("Error=BadAuthentication\n", 401)
    g.user = login.user
    if _arg("output") == "json":
        return _json({"SID": login.token, "LSID": login.token, "Auth": login.token})
    return _text(f"SID={login.token}\nLSID={login.token}\nAuth={login.token}\n")


@bp.route(f"{API}/token", methods=BOTH)
@_authenticated
def token(login: Login) -> Response:
    """The short ``T`` token that edits may carry."""
    return _text(greader_auth.edit_token(settings(), login))


@bp.route(f"{API}/user-info", methods=BOTH)
@_authenticated
def user_info(login: Login) -> Response:
    """Who signed in."""
    return _json(greader.user_info(login.user))


@bp.route(f"{API}/subscription/list", methods=BOTH)
@_authenticated
def subscription_list(login: Login) -> Response:
    """The person's feeds."""
    return _json(greader.subscription_list(db_session(), login.user.id))


@bp.post(f"{API}/subscription/edit")
@_authenticated
def subscription_edit(login: Login) -> Response:
    """``ac=subscribe|unsubscribe|edit`` the feeds ``s`` (title ``t``, labels ``a`` / ``r``)."""
    greader_subscriptions.edit_action(
        db_session(),
        queues(),
        settings(),
        login.user.id,
        _arg("ac") or "",
        _args("s"),
        title=_arg("t"),
        add=_args("a"),
        remove=_args("r"),
        charge=charge_submission,
    )
    return _text("OK")


@bp.post(f"{API}/subscription/quickadd")
@_authenticated
def quickadd(login: Login) -> Response:
    """Subscribe to the feed at ``quickadd`` and queue its first fetch."""
    raw = (_arg("quickadd") or "").removeprefix("feed/")
    feed = greader_subscriptions.subscribe(
        db_session(), queues(), settings(), login.user.id, raw, charge=charge_submission
    )
    return _json(
        {
            "numResults": 1,
            "query": raw,
            "streamId": feed_stream(feed.url),
            "streamName": feed.title or feed.url,
        }
    )


@bp.route(f"{API}/subscription/export", methods=BOTH)
@_authenticated
def subscription_export(login: Login) -> Response:
    """The person's subscriptions as OPML."""
    data = greader_subscriptions.export_opml(db_session(), login.user.id)
    return Response(data, mimetype="text/xml", headers={"Cache-Control": "no-store"})


@bp.post(f"{API}/subscription/import")
@_authenticated
def subscription_import(login: Login) -> Response:
    """Subscribe to the feeds of the OPML file sent as the body."""
    data = request.stream.read(MAX_BYTES + 1) or request.get_data()
    if len(data) > MAX_BYTES:
        return _error(413, "too_large", f"An OPML file has at most {MAX_BYTES // 1024} KiB.")
    greader_subscriptions.import_subscriptions(
        db_session(), queues(), settings(), login.user.id, data, charge_submission
    )
    return _text("OK")


@bp.post(f"{API}/rename-tag")
@_authenticated
def rename_tag(login: Login) -> Response:
    """Rename the label ``s`` (a folder) to ``dest``."""
    greader_subscriptions.rename_label(
        db_session(), login.user.id, _arg("s") or "", _arg("dest") or ""
    )
    return _text("OK")


@bp.post(f"{API}/disable-tag")
@_authenticated
def disable_tag(login: Login) -> Response:
    """Remove the labels ``s`` (folders); their feeds stay, in no folder."""
    greader_subscriptions.disable_labels(db_session(), login.user.id, _args("s"))
    return _text("OK")


@bp.route(f"{API}/tag/list", methods=BOTH)
@_authenticated
def tag_list(login: Login) -> Response:
    """The starred state and the person's labels (folders)."""
    return _json(greader.tag_list(db_session(), login.user.id))


def _stream_args(stream: str | None = None) -> StreamArgs:
    return StreamArgs.of(_arg, _args, stream)


@bp.route(f"{API}/stream/items/ids", methods=BOTH)
@_authenticated
def stream_item_ids(login: Login) -> Response:
    """The ids of a stream's items, a page (``n``, ``c``) at a time."""
    return _json(greader_streams.item_ids(db_session(), login.user.id, _stream_args()))


@bp.route(f"{API}/stream/items/contents", methods=BOTH)
@_authenticated
def stream_items_contents(login: Login) -> Response:
    """The items named by repeated ``i=`` (long or short ids)."""
    return _json(greader_streams.items_contents(db_session(), login.user.id, _args("i")))


@bp.route(f"{API}/stream/contents/", methods=BOTH, defaults={"stream": None})
@bp.route(f"{API}/stream/contents/<path:stream>", methods=BOTH, merge_slashes=False)
@_authenticated
def stream_contents(login: Login, stream: str | None = None) -> Response:
    """A stream's items (the stream in the path, or reading-list), a page at a time."""
    if stream:
        # A proxy may fold the "//" of an address in the path into one slash.
        stream = re.sub(r"^feed/(https?):/(?!/)", r"feed/\1://", stream)
    args = _stream_args(stream)
    return _json(greader_streams.contents(db_session(), login.user.id, args))


@bp.post(f"{API}/edit-tag")
@_authenticated
def edit_tag(login: Login) -> Response:
    """Add (``a``) or remove (``r``) read / starred on the items ``i``."""
    greader.edit_tag(db_session(), login.user.id, _args("i"), _args("a"), _args("r"))
    return _text("OK")


@bp.post(f"{API}/mark-all-as-read")
@_authenticated
def mark_all_as_read(login: Login) -> Response:
    """Mark the stream ``s`` read, up to ``ts`` (microseconds)."""
    greader.mark_all_as_read(db_session(), login.user.id, _arg("s") or "", _arg("ts"))
    return _text("OK")


@bp.route(f"{API}/unread-count", methods=BOTH)
@_authenticated
def unread_count(login: Login) -> Response:
    """Unread items of everything, each feed and each label."""
    return _json(greader.unread_count(db_session(), login.user.id))

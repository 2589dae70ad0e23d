"""The reader's pages: the river (home page), search, and one item in the reading pane.

Server-rendered; app/static/river.js adds the keyboard, the reading pane, marks
and stars (through the JSON API) and "More" without reload. ``?partial=list``
answers only the list's entries and its "More" link, ``?partial=pane`` only the
reading pane, for that script. A feed, folder or item not the person's is a 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from app.services import reading
from app.services.reading import Invalid, NotFound, Scope
from app.storage.pagination import BadCursor
from app.web.helpers import (
    ApiError,
    current_user,
    current_user_id,
    db_session,
    id_arg,
    page_cursor,
    page_limit,
)
from app.web.sidebar import Sidebar, sidebar

bp = Blueprint("river", __name__)

#: Items per page of the river (``?limit=`` 1 to MAX_PAGE overrides it).
PAGE_SIZE = 50
SEARCH_PAGE_SIZE = 20


def _scope() -> Scope:
    feed_id, folder_id = id_arg(request.args, "feed_id"), id_arg(request.args, "folder_id")
    if feed_id is not None and folder_id is not None:
        raise ApiError(400, "invalid_scope", "Give feed_id or folder_id, not both.")
    flag = {name: request.args.get(name, "") in ("1", "true") for name in ("unread", "starred")}
    return Scope(feed_id, folder_id, flag["unread"], flag["starred"])


def _limit(default: int) -> int:
    # A form may send limit= empty: that is the default here, unlike in the JSON API.
    return page_limit(request.args.get("limit") or str(default))


def scope_args(scope: Scope, **extra: object) -> dict[str, object]:
    """URL arguments of ``scope`` (what links inside the page keep), plus ``extra``."""
    args: dict[str, object] = {
        "feed_id": scope.feed_id,
        "folder_id": scope.folder_id,
        "unread": 1 if scope.unread_only else None,
        "starred": 1 if scope.starred_only else None,
    }
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def _render(template: str, **context: object) -> Response:
    partial = request.args.get("partial")
    if partial == "list":
        template = "_river_list.html"
    return Response(render_template(template, **context), mimetype="text/html")


@bp.get("/")
def page() -> Response:
    """The river: every item of the person's feeds, newest first, with the sidebar."""
    session, user = db_session(), current_user()
    scope, limit = _scope(), _limit(PAGE_SIZE)
    try:
        page = reading.river(session, user.id, scope, page_cursor(), limit)
    except NotFound as err:
        raise ApiError(404, err.code, err.message) from None
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    keep = scope_args(scope, limit=request.args.get("limit"))
    bar = sidebar(session, user.id)
    return _render(
        "river.html",
        scope=scope,
        page=page,
        query=None,
        keep=keep,
        more_url=url_for("river.page", **keep, cursor=page.next_cursor)
        if page.next_cursor
        else None,
        sidebar=bar,
        heading=_heading(bar, scope),
        upto_id=max((item.id for item in page.rows), default=None),
    )


@bp.get("/search")
def search() -> Response:
    """Search the person's items (the river's filters apply), best match first."""
    session, user = db_session(), current_user()
    scope, limit = _scope(), _limit(SEARCH_PAGE_SIZE)
    query = request.args.get("q", "")
    page = None
    error = None
    if query.strip():
        try:
            page = reading.find(session, user.id, query, scope, page_cursor(), limit)
        except NotFound as err:
            raise ApiError(404, err.code, err.message) from None
        except Invalid as err:
            error = err.message
        except BadCursor as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from None
    keep = scope_args(scope, limit=request.args.get("limit"), q=query)
    bar = sidebar(session, user.id)
    response = _render(
        "river.html",
        scope=scope,
        page=page,
        query=query,
        error=error,
        keep=keep,
        more_url=url_for("river.search", **keep, cursor=page.next_cursor)
        if page and page.next_cursor
        else None,
        sidebar=bar,
        heading=_heading(bar, scope),
        upto_id=None,
    )
    if error:
        response.status_code = 400
    return response


@bp.get("/items/<int:item_id>")
def item(item_id: int) -> Response:
    """One item, whole: its content, link and feed (``?partial=pane``: the pane only)."""
    try:
        found = reading.item(db_session(), current_user_id(), item_id)
    except NotFound as err:
        raise ApiError(404, err.code, err.message) from None
    template = "_pane.html" if request.args.get("partial") == "pane" else "item.html"
    return Response(render_template(template, item=found), mimetype="text/html")


@bp.post("/river/mark-all-read")
def mark_all_read() -> Response:
    """Mark everything in the form's scope read (up to the newest item shown), then back."""
    feed_id, folder_id = id_arg(request.form, "feed_id"), id_arg(request.form, "folder_id")
    if feed_id is not None and folder_id is not None:
        raise ApiError(400, "invalid_scope", "Give feed_id or folder_id, not both.")
    upto_id = id_arg(request.form, "upto_id")
    scope = Scope(feed_id, folder_id)
    try:
        reading.mark_all_read(db_session(), current_user_id(), scope, upto_id=upto_id)
    except NotFound as err:
        raise ApiError(404, err.code, err.message) from None
    unread = request.form.get("unread") == "1"
    return redirect(url_for("river.page", **scope_args(scope), unread=1 if unread else None), 303)


def _heading(bar: Sidebar, scope: Scope) -> str:
    """The river's title for its scope: the sidebar's name of the feed or folder."""
    folders = list(bar.folders)
    feeds = list(bar.feeds)
    while folders:
        folder = folders.pop()
        if folder.folder_id == scope.folder_id:
            return folder.name
        folders.extend(folder.folders)
        feeds.extend(folder.feeds)
    for feed in feeds:
        if feed.feed_id == scope.feed_id:
            return feed.title
    return "Starred" if scope.starred_only else "All items"

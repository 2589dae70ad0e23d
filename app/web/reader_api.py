"""The reader's JSON API: subscriptions, folders, the river, search, read state, stars, counts.

Every view works on the signed-in person's data only (app.services.reading);
anything else answers 404 as if it did not exist. Authentication (session,
Bearer token or HTTP Basic) is app.web.auth's. The river and search page with
cursors (``next_cursor``); ``limit`` is 1 to 100.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, jsonify, redirect, request, url_for

from app.services import reading
from app.services.reading import Invalid, NotFound, Scope
from app.storage.pagination import BadCursor
from app.storage.subscriptions import folders_of, subscriptions_of
from app.web.helpers import (
    MAX_ID,
    ApiError,
    current_user,
    current_user_id,
    db_session,
    id_arg,
    page_cursor,
    page_limit,
    wants_json,
)
from app.web.serializers import river_item_json, subscription_json

bp = Blueprint("reader_api", __name__)

#: Items per page of the river and of search when ``?limit=`` is not given.
PAGE_SIZE = 50
SEARCH_PAGE_SIZE = 20
MAX_IDS = 1000


def _not_found(err: NotFound) -> ApiError:
    return ApiError(404, err.code, err.message)


def _invalid(err: Invalid) -> ApiError:
    return ApiError(400, err.code, err.message)


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"invalid_{name}", f"{name} must be true or false.")
    return raw in ("true", "1")


def _limit(default: int) -> int:
    return page_limit(request.args.get("limit", str(default)))


def _scope() -> Scope:
    feed_id, folder_id = id_arg(request.args, "feed_id"), id_arg(request.args, "folder_id")
    if feed_id is not None and folder_id is not None:
        raise ApiError(400, "invalid_scope", "Give feed_id or folder_id, not both.")
    return Scope(feed_id, folder_id, _bool_arg("unread"), _bool_arg("starred"))


def _body() -> dict[str, object]:
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object (application/json).")
    return body


def _page(page: object, endpoint: str, **args: object) -> Response:
    rows, next_cursor = page.rows, page.next_cursor  # type: ignore[attr-defined]
    query = {k: v for k, v in request.args.items() if k != "cursor"}
    return jsonify(
        items=[river_item_json(item) for item in rows],
        next_cursor=next_cursor,
        next_url=url_for(endpoint, **args, **query, cursor=next_cursor) if next_cursor else None,
    )


# -- the river, search, one item ---------------------------------------------------------


@bp.get("/api/items")
def river() -> Response:
    """The person's items, newest first, filtered by feed or folder, unread, starred."""
    try:
        page = reading.river(
            db_session(), current_user_id(), _scope(), page_cursor(), _limit(PAGE_SIZE)
        )
    except NotFound as err:
        raise _not_found(err) from None
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    return _page(page, "reader_api.river")


@bp.get("/api/search")
def search() -> Response:
    """Full-text search over the person's items, best match first, with the river's filters."""
    query = request.args.get("q", "")
    try:
        page = reading.find(
            db_session(),
            current_user_id(),
            query,
            _scope(),
            page_cursor(),
            _limit(SEARCH_PAGE_SIZE),
        )
    except NotFound as err:
        raise _not_found(err) from None
    except Invalid as err:
        raise _invalid(err) from None
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    return _page(page, "reader_api.search")


@bp.get("/api/items/<int:item_id>")
def get_item(item_id: int) -> Response:
    """One of the person's items, with its full content."""
    try:
        found = reading.item(db_session(), current_user_id(), item_id)
    except NotFound as err:
        raise _not_found(err) from None
    return jsonify(item=river_item_json(found))


def _one(item_id: int, change: str, value: bool) -> Response:
    session, user_id = db_session(), current_user_id()
    if change == "read":
        done = reading.mark_read(session, user_id, [item_id], value)
    else:
        done = reading.star(session, user_id, [item_id], value)
    if not done:
        raise ApiError(404, "item_not_found", f"There is no item {item_id}.")
    return jsonify(item=river_item_json(reading.item(session, user_id, item_id)))


@bp.put("/api/items/<int:item_id>/read")
def mark_item_read(item_id: int) -> Response:
    """Mark one item read."""
    return _one(item_id, "read", True)


@bp.delete("/api/items/<int:item_id>/read")
def mark_item_unread(item_id: int) -> Response:
    """Mark one item unread."""
    return _one(item_id, "read", False)


@bp.put("/api/items/<int:item_id>/star")
def star_item(item_id: int) -> Response:
    """Star one item (starred items are kept by retention)."""
    return _one(item_id, "star", True)


@bp.delete("/api/items/<int:item_id>/star")
def unstar_item(item_id: int) -> Response:
    """Unstar one item."""
    return _one(item_id, "star", False)


def _ids(body: dict[str, object]) -> list[int]:
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ApiError(400, "invalid_ids", f"ids is a list of 1 to {MAX_IDS} item ids.")
    return ids  # type: ignore[return-value]


def _flag(body: dict[str, object], name: str) -> bool:
    value = body.get(name, True)
    if not isinstance(value, bool):
        raise ApiError(400, f"invalid_{name}", f"{name} is true or false.")
    return value


@bp.post("/api/items/read")
def mark_items() -> Response:
    """Mark many items read (``{"ids": [...], "read": true}``) or unread (``"read": false``)."""
    body = _body()
    done = reading.mark_read(db_session(), current_user_id(), _ids(body), _flag(body, "read"))
    return jsonify(ids=sorted(done))


@bp.post("/api/items/star")
def star_items() -> Response:
    """Star (``"starred": true``) or unstar many items."""
    body = _body()
    done = reading.star(db_session(), current_user_id(), _ids(body), _flag(body, "starred"))
    return jsonify(ids=sorted(done))


@bp.post("/api/mark-all-read")
def mark_all_read() -> Response:
    """Mark read everything, a feed (``feed_id``) or a folder (``folder_id``): one statement.

    ``older_than`` (ISO 8601 with offset): only items sorted before it. ``upto_id``:
    only items up to that id (the newest the client showed), so later ones stay unread.
    """
    body = _body()
    older_than = body.get("older_than")
    when = None
    if older_than is not None:
        try:
            when = datetime.fromisoformat(str(older_than)) if isinstance(older_than, str) else None
            # Postgres takes offsets up to 15:59 only; Python's go to 23:59.
            when = when.astimezone(UTC) if when and when.tzinfo else None
        except (ValueError, OverflowError):
            when = None
        if when is None:
            raise ApiError(400, "invalid_older_than", "older_than is an ISO 8601 time with offset.")
    ids = {}
    for name in ("feed_id", "folder_id", "upto_id"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID
        ):
            raise ApiError(400, f"invalid_{name}", f"{name} is an id or null.")
        ids[name] = value
    if ids["feed_id"] is not None and ids["folder_id"] is not None:
        raise ApiError(400, "invalid_scope", "Give feed_id or folder_id, not both.")
    try:
        count = reading.mark_all_read(
            db_session(),
            current_user_id(),
            Scope(ids["feed_id"], ids["folder_id"]),
            older_than=when,
            upto_id=ids["upto_id"],
        )
    except NotFound as err:
        raise _not_found(err) from None
    return jsonify(subscriptions=count)


@bp.get("/api/counts")
def counts() -> Response:
    """Unread counts per feed and per folder, and in all."""
    result = reading.unread_counts(db_session(), current_user_id())
    return jsonify(
        total=result.total,
        feeds={str(k): v for k, v in result.feeds.items()},
        folders={str(k): v for k, v in result.folders.items()},
    )


# -- subscriptions and folders ---------------------------------------------------------


@bp.get("/api/subscriptions")
def list_subscriptions() -> Response:
    """The person's subscriptions with their unread counts. Subscribe with POST /feeds."""
    session, user_id = db_session(), current_user_id()
    unread = reading.unread_counts(session, user_id).feeds
    return jsonify(
        subscriptions=[
            subscription_json(sub, unread.get(sub.feed_id, 0))
            for sub in subscriptions_of(session, user_id)
        ]
    )


@bp.patch("/api/subscriptions/<int:feed_id>")
def update_subscription(feed_id: int) -> Response:
    """Change the person's title (``title``) or folder (``folder_id``) of a feed."""
    body = _body()
    try:
        reading.update_subscription(db_session(), current_user_id(), feed_id, body)
    except NotFound as err:
        raise _not_found(err) from None
    except Invalid as err:
        raise _invalid(err) from None
    return list_subscriptions()


@bp.delete("/api/subscriptions/<int:feed_id>")
def unsubscribe(feed_id: int) -> Response:
    """Stop following a feed; the person's read and starred marks on it go too."""
    try:
        reading.unsubscribe(db_session(), current_user_id(), feed_id)
    except NotFound as err:
        raise _not_found(err) from None
    return Response(status=204)


@bp.post("/feeds/<int:feed_id>/unsubscribe")
def unsubscribe_form(feed_id: int) -> Response:
    """The feed page's Unsubscribe button."""
    try:
        reading.unsubscribe(db_session(), current_user_id(), feed_id)
    except NotFound as err:
        raise _not_found(err) from None
    if wants_json():
        return Response(status=204)
    flash("Unsubscribed.", "ok")
    return redirect(url_for("pages.index"), code=303)


@bp.get("/api/folders")
def list_folders() -> Response:
    """The person's folders (``parent_id`` null at the top)."""
    return jsonify(
        folders=[
            {"id": f.id, "name": f.name, "parent_id": f.parent_id}
            for f in folders_of(db_session(), current_user_id())
        ]
    )


@bp.post("/api/folders")
def create_folder() -> Response:
    """Create a folder (``name``, optional ``parent_id``); an existing one of that name
    under that parent is returned as is."""
    body = _body()
    try:
        folder_id = reading.create_folder(
            db_session(), current_user_id(), body.get("name"), body.get("parent_id")
        )
    except NotFound as err:
        raise _not_found(err) from None
    except Invalid as err:
        raise _invalid(err) from None
    response = jsonify(folder={"id": folder_id})
    response.status_code = 201
    return response


@bp.patch("/api/folders/<int:folder_id>")
def rename_folder(folder_id: int) -> Response:
    """Rename a folder."""
    body = _body()
    try:
        reading.rename_folder(db_session(), current_user_id(), folder_id, body.get("name"))
    except NotFound as err:
        raise _not_found(err) from None
    except Invalid as err:
        raise ApiError(409 if err.code == "folder_exists" else 400, err.code, err.message) from None
    return list_folders()


@bp.delete("/api/folders/<int:folder_id>")
def delete_folder(folder_id: int) -> Response:
    """Delete a folder and its sub-folders; their feeds stay, outside any folder."""
    try:
        reading.delete_folder(db_session(), current_user_id(), folder_id)
    except NotFound as err:
        raise _not_found(err) from None
    return Response(status=204)


@bp.get("/api/me")
def me() -> Response:
    """Who the credentials belong to."""
    user = current_user()
    return jsonify(user={"id": user.id, "username": user.username, "is_admin": user.is_admin})

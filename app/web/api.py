"""The JSON API: fetch status, feeds and items, each only of feeds the person follows."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request, url_for

from app.storage import feeds, fetches, items
from app.storage.pagination import BadCursor
from app.web.helpers import (
    ApiError,
    current_user_id,
    db_session,
    fetch_status,
    get_feed_or_404,
    page_cursor,
    page_limit,
)
from app.web.serializers import feed_json, item_json

bp = Blueprint("api", __name__)

#: Feeds or items per page when ``?limit=`` is not given.
PAGE_SIZE = 20


def _limit() -> int:
    return page_limit(request.args.get("limit", str(PAGE_SIZE)))


@bp.get("/fetches/<fetch_id>")
def get_fetch(fetch_id: str) -> Response:
    try:
        key = uuid.UUID(fetch_id)
    except ValueError:
        raise ApiError(404, "fetch_not_found", "There is no such fetch.") from None
    # Someone else's fetch does not exist for this person.
    fetch = fetches.followed_fetch(db_session(), current_user_id(), key)
    if fetch is None:
        raise ApiError(404, "fetch_not_found", "There is no such fetch.")
    body, headers = fetch_status(fetch)
    response = jsonify(body)
    response.headers.update(headers)
    return response


@bp.get("/api/feeds")
def list_feeds() -> Response:
    try:
        page = feeds.feeds_page(
            db_session(), limit=_limit(), cursor=page_cursor(), user_id=current_user_id()
        )
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    return jsonify(
        feeds=[feed_json(f) for f in page.rows],
        next_cursor=page.next_cursor,
        next_url=url_for("api.list_feeds", cursor=page.next_cursor, limit=request.args.get("limit"))
        if page.next_cursor
        else None,
    )


@bp.get("/api/feeds/<int:feed_id>")
def get_feed(feed_id: int) -> Response:
    return jsonify(feed=feed_json(get_feed_or_404(feed_id)))


@bp.get("/api/feeds/<int:feed_id>/items")
def list_items(feed_id: int) -> Response:
    feed = get_feed_or_404(feed_id)
    try:
        page = items.items_page(db_session(), feed.id, limit=_limit(), cursor=page_cursor())
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    return jsonify(
        feed_id=feed.id,
        items=[item_json(i) for i in page.rows],
        next_cursor=page.next_cursor,
        next_url=url_for(
            "api.list_items",
            feed_id=feed.id,
            cursor=page.next_cursor,
            limit=request.args.get("limit"),
        )
        if page.next_cursor
        else None,
    )

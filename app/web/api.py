"""The JSON API: fetch status, feeds and items."""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, Response, jsonify, request, url_for
from redis.exceptions import RedisError

from app.storage import feeds, fetches, items
from app.storage.models import Feed, Fetch, FetchState
from app.storage.pagination import BadCursor
from app.web import db_session, queues
from app.web.errors import ApiError
from app.web.serializers import feed_json, fetch_json, item_json

bp = Blueprint("api", __name__)

MAX_PAGE = 100


def _limit(default: int = 20) -> int:
    raw = request.args.get("limit", str(default))
    # isdigit() accepts "²" and other digits int() refuses: match ASCII only.
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_limit", f"limit must be a number from 1 to {MAX_PAGE}.")
    return int(raw)


def _cursor() -> str | None:
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise ApiError(400, "invalid_cursor", "The cursor is not valid.")
    return cursor


def get_feed_or_404(feed_id: int) -> Feed:
    """The feed, or a 404 API error (also for ids beyond the column's range)."""
    feed = feeds.get_feed(db_session(), feed_id)
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


@bp.get("/fetches/<fetch_id>")
def get_fetch(fetch_id: str) -> Response:
    try:
        key = uuid.UUID(fetch_id)
    except ValueError:
        raise ApiError(404, "fetch_not_found", "There is no such fetch.") from None
    fetch = fetches.get_fetch(db_session(), key)
    if fetch is None:
        raise ApiError(404, "fetch_not_found", "There is no such fetch.")
    body, headers = fetch_status(fetch)
    response = jsonify(body)
    response.headers.update(headers)
    return response


@bp.get("/api/feeds")
def list_feeds() -> Response:
    try:
        page = feeds.feeds_page(db_session(), limit=_limit(), cursor=_cursor())
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
        page = items.items_page(db_session(), feed.id, limit=_limit(), cursor=_cursor())
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

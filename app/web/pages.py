"""HTML pages: home (submit form and feed list), feed page, health check."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from app.storage.fetches import pending_fetch
from app.storage.models import Feed
from app.storage.queries import BadCursor, items_page
from app.web import db_session
from app.web.api import get_feed_or_404
from app.web.errors import ApiError

bp = Blueprint("pages", __name__)

ITEMS_PER_PAGE = 20


@bp.get("/")
def index() -> str:
    feeds = db_session().scalars(select(Feed).order_by(Feed.id.desc()).limit(200)).all()
    return render_template("index.html", feeds=feeds)


@bp.get("/feeds/<int:feed_id>")
def feed(feed_id: int) -> str:
    feed = get_feed_or_404(feed_id)
    session = db_session()
    cursor = request.args.get("cursor") or None
    try:
        page = items_page(session, feed.id, limit=ITEMS_PER_PAGE, cursor=cursor)
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    template = "_items.html" if request.args.get("partial") == "items" else "feed.html"
    return render_template(
        template,
        feed=feed,
        page=page,
        cursor=cursor,
        pending=pending_fetch(session, feed.id),
    )


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Readiness of its dependencies is /readyz."""
    return Response("ok\n", mimetype="text/plain")

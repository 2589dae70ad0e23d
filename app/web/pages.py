"""HTML pages: the feed list (with the submit form), feed page, health check.

Also the page-wide template helpers (badges, times, cache-busted asset URLs).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from app.storage.fetches import pending_fetch
from app.storage.items import items_page
from app.storage.pagination import BadCursor
from app.storage.websub import of_feed as websub_of_feed
from app.web import wording
from app.web.assets import asset_url
from app.web.helpers import (
    ApiError,
    db_session,
    get_feed_or_404,
    page_cursor,
    render_home,
    signed_in_user,
)

bp = Blueprint("pages", __name__)

ITEMS_PER_PAGE = 20


@bp.app_context_processor
def _template_helpers() -> dict[str, object]:
    user = signed_in_user()
    return {
        "asset_url": asset_url,
        "badge": wording.badge,
        "timestamp": wording.timestamp,
        "advice": wording.advice,
        "duration": wording.duration,
        "signed_in": user,
        "is_admin": bool(user and user.is_admin),
    }


@bp.get("/feeds")
def index() -> Response:
    """The feed list and the form to follow a feed (the river is the home page)."""
    return render_home()


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 100_000 else 1


@bp.get("/feeds/<int:feed_id>")
def feed(feed_id: int) -> str:
    session = db_session()
    # The pending fetch before the feed: a fetch that ends in between is then still
    # followed (the page polls it and swaps in its outcome). Read the other way round,
    # the feed could still look new with no fetch left to follow: "Queued" until reloaded.
    pending = pending_fetch(session, feed_id)
    feed = get_feed_or_404(feed_id)
    cursor = page_cursor()
    try:
        page = items_page(session, feed.id, limit=ITEMS_PER_PAGE, cursor=cursor)
    except BadCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    template = "_feed_live.html" if request.args.get("partial") == "live" else "feed.html"
    return render_template(
        template,
        feed=feed,
        page=page,
        cursor=cursor,
        page_number=_page_number() if cursor else 1,
        page_count=max(1, -(-feed.item_count // ITEMS_PER_PAGE)),
        pending=pending,
        badge_key=wording.badge_key(feed, pending),
        push=websub_of_feed(session, feed.id),
    )


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Readiness of its dependencies is /readyz."""
    return Response("ok\n", mimetype="text/plain")

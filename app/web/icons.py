"""Feed icons: ``GET /feeds/<id>/icon`` for the people who follow the feed, and the
``feed_icon_url`` template helper the sidebar, the feed list and the river use.

The bytes were stored by the worker (app.jobs.icons) only when they sniffed as a raster
image; they are served with that sniffed type and ``nosniff``, never the type the site
sent. A feed without an icon answers the default one. Someone else's feed is a 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request, url_for

from app.storage.icons import follows, icon_versions, stored_icon
from app.web.assets import asset_url
from app.web.helpers import ApiError, current_user_id, db_session, signed_in

bp = Blueprint("icons", __name__)

DEFAULT_ICON = "feed-icon.svg"
#: A URL that names the icon's version (``?v=``) never changes content: cached for a year.
VERSIONED_MAX_AGE = 365 * 24 * 3600
#: Otherwise (the default icon, or an old version asked for), an hour.
MAX_AGE = 3600
VERSION_LENGTH = 16


@bp.get("/feeds/<int:feed_id>/icon")
def feed_icon(feed_id: int) -> Response:
    """The feed's icon, or the default one; 404 when the person does not follow the feed."""
    session = db_session()
    if not follows(session, current_user_id(), feed_id):
        raise ApiError(404, "feed_not_found", f"There is no feed {feed_id}.")
    icon = stored_icon(session, feed_id)
    if icon is None:
        response = current_app.send_static_file(DEFAULT_ICON)
        response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    response = Response(icon.body, mimetype=icon.content_type)
    response.set_etag(icon.sha256)
    versioned = request.args.get("v") == icon.sha256[:VERSION_LENGTH]
    response.headers["Cache-Control"] = (
        f"private, max-age={VERSIONED_MAX_AGE}, immutable"
        if versioned
        else f"private, max-age={MAX_AGE}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The bytes are an image, never a document: nothing in them may run if opened directly.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response.make_conditional(request)


def feed_icon_url(feed_id: int) -> str:
    """The versioned URL of the feed's icon, or the default icon's when it has none.

    The person's icon versions and the default's URL are worked out once per request:
    a sidebar lists hundreds of feeds, most of them without an icon of their own.
    """
    versions = g.get("feed_icon_versions")
    if versions is None:
        versions = icon_versions(db_session(), current_user_id()) if signed_in() else {}
        g.feed_icon_versions = versions
        g.default_feed_icon_url = asset_url(DEFAULT_ICON)
    sha256 = versions.get(feed_id)
    if sha256 is None:
        return str(g.default_feed_icon_url)
    return url_for("icons.feed_icon", feed_id=feed_id, v=sha256[:VERSION_LENGTH])


@bp.app_context_processor
def _icon_helpers() -> dict[str, object]:
    return {"feed_icon_url": feed_icon_url}

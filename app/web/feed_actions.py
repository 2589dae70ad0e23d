"""Buttons on the feed page: pause, resume and delete a feed (form posts, CSRF-checked).

Each answers with a redirect for browsers (303, with a flash message) and
with JSON for API clients. A feed is shared by its subscribers, so these are
admin actions (on a feed the admin follows); a person leaves a feed by
unsubscribing (app.web.reader_api).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, flash, jsonify, redirect, url_for
from sqlalchemy.orm import Session

from app.services import feeds
from app.web.helpers import admin_required, any_feed_or_404, db_session, rate_limited, wants_json
from app.web.serializers import feed_json

bp = Blueprint("feed_actions", __name__)


def _done(feed_id: int, message: str) -> Response:
    if wants_json():
        return jsonify(feed=feed_json(any_feed_or_404(feed_id)))
    flash(message, "ok")
    return redirect(url_for("pages.feed", feed_id=feed_id), code=303)


def _change(feed_id: int, change: Callable[[Session, int], object], message: str) -> Response:
    feed = any_feed_or_404(feed_id)
    change(db_session(), feed.id)
    return _done(feed.id, message)


@bp.post("/feeds/<int:feed_id>/pause")
@admin_required
@rate_limited
def pause(feed_id: int) -> Response:
    """Stop scheduled refreshes of the feed."""
    return _change(feed_id, feeds.pause_feed, "Refreshes are paused. Refresh now still works.")


@bp.post("/feeds/<int:feed_id>/resume")
@admin_required
@rate_limited
def resume(feed_id: int) -> Response:
    """Refresh the feed on its schedule again, starting now."""
    return _change(feed_id, feeds.resume_feed, "Refreshes are resumed; the next one is due now.")


@bp.post("/feeds/<int:feed_id>/delete")
@admin_required
def delete(feed_id: int) -> Response:
    """Remove the feed with its items and fetch history."""
    feed = any_feed_or_404(feed_id)
    title = feed.title or feed.url
    feeds.delete_feed(db_session(), feed.id)
    if wants_json():
        return Response(status=204)
    flash(f"Deleted {title}.", "ok")
    return redirect(url_for("pages.index"), code=303)

"""OPML pages: import a subscription list, watch its feeds being fetched, export one's feeds.

The import itself is app.services.opml_import: this blueprint hands it the
uploaded file, redirects to the import's progress page, and shows that page
(and its JSON, which the page's script polls).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for

from app.opml import MAX_BYTES, OpmlError, build_opml
from app.services.opml_import import Progress, export_entries, import_opml, import_progress
from app.web import wording
from app.web.helpers import (
    charge_submission,
    current_user_id,
    db_session,
    queues,
    rate_limited,
    settings,
)

bp = Blueprint("opml", __name__)

# The badge of each fetch state on the progress page.
_BADGE = {
    "queued": "queued",
    "running": "fetching",
    "succeeded": "ok",
    "failed": "error",
    "deleted": "gone",
}


def _form(error: str | None = None, status: int = 200) -> Response:
    html = render_template("opml.html", form_error=error, max_kib=MAX_BYTES // 1024)
    return Response(html, status=status, mimetype="text/html")


@bp.get("/opml")
def page() -> Response:
    """The import form and the export link."""
    return _form()


@bp.post("/opml/import")
@rate_limited
def import_file() -> Response:
    """Submit every valid feed of the uploaded file, then show the import's progress."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form("Choose an OPML file to import.", 400)
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        import_id = import_opml(
            db_session(),
            queues(),
            settings(),
            name=upload.filename,
            data=data,
            user_id=current_user_id(),
            charge=charge_submission,
        )
    except OpmlError as exc:
        return _form(str(exc), 400)
    return redirect(url_for("opml.batch", batch_id=import_id.hex), code=303)


def _progress(batch_id: str) -> Progress:
    if len(batch_id) != 32 or not batch_id.isalnum():
        abort(404)
    try:
        import_id = uuid.UUID(hex=batch_id)
    except ValueError:
        abort(404)
    progress = import_progress(db_session(), import_id, current_user_id())
    if progress is None:
        abort(404, "This import is unknown or older than a day.")
    return progress


@bp.get("/opml/batches/<batch_id>")
def batch(batch_id: str) -> str:
    """Progress of one import: each feed's fetch state, and the refused entries."""
    progress = _progress(batch_id)
    return render_template(
        "opml_batch.html",
        batch_id=batch_id,
        name=progress.name,
        rows=progress.feeds,
        refused=progress.refused,
        summary=progress.summary,
        badge_of=_BADGE,
    )


@bp.get("/opml/batches/<batch_id>/progress")
def batch_progress(batch_id: str) -> Response:
    """The progress page's data as JSON, for the page's script to poll."""
    progress = _progress(batch_id)
    summary = progress.summary
    response = jsonify(
        summary=summary,
        fetches=[
            {
                "fetch_id": str(feed.fetch_id),
                "feed_id": feed.feed_id,
                "state": feed.state,
                "badge": _BADGE[feed.state],
                "error": feed.error,
                "advice": wording.advice(feed.error_code),
                "items_new": feed.items_new,
            }
            for feed in progress.feeds
        ],
    )
    response.headers["Cache-Control"] = "no-store"
    if summary["pending"]:
        response.headers["Retry-After"] = "1" if summary["pending"] < 100 else "3"
    return response


@bp.get("/opml/export")
def export() -> Response:
    """The person's subscriptions as an OPML 2.0 download, in their folders."""
    data = build_opml(export_entries(db_session(), current_user_id()))
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        data,
        mimetype="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="feedqueue-{stamp}.opml"',
            "Cache-Control": "no-store",
        },
    )

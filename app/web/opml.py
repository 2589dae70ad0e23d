"""OPML pages: import a subscription list, watch its feeds being fetched, export all feeds.

An import submits every valid feed like the home form would, then redirects
to a batch page. The batch (which fetch belongs to which entry, and which
entries were refused) is kept in Redis for a day; the fetch states themselves
are read from Postgres on every view, so the page is always current.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for

from app.opml import MAX_BYTES, OpmlEntry, OpmlError, build_opml, parse_opml, plan_import
from app.services.submissions import QueueUnavailable, blocked_reason, submit_url
from app.storage.feeds import all_feeds
from app.storage.fetches import fetches_by_id
from app.web import db_session, queues, settings, wording
from app.web.security import limiter, submission_limit

bp = Blueprint("opml", __name__)

BATCH_TTL = 24 * 3600


def _batch_key(batch_id: str) -> str:
    return f"{settings().queue_prefix}:opml-batch:{batch_id}"


def _form(error: str | None = None, status: int = 200) -> Response:
    html = render_template("opml.html", form_error=error, max_kib=MAX_BYTES // 1024)
    return Response(html, status=status, mimetype="text/html")


@bp.get("/opml")
def page() -> Response:
    """The import form and the export link."""
    return _form()


@bp.post("/opml/import")
@limiter.limit(submission_limit)
def import_file() -> Response:
    """Submit every valid feed of the uploaded file, then show the batch's progress."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form("Choose an OPML file to import.", 400)
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        document = parse_opml(data)
    except OpmlError as exc:
        return _form(str(exc), 400)
    plan = plan_import(document.entries, check=lambda url: blocked_reason(url, settings()))
    session = db_session()
    submitted: list[dict[str, object]] = []
    refused = [
        {"line": r.entry.line, "title": r.entry.title, "url": r.entry.xml_url, "reason": r.reason}
        for r in plan.rejected
    ]
    for index, (entry, url) in enumerate(plan.accepted):
        try:
            submission = submit_url(session, queues(), url)
        except QueueUnavailable:
            # Keep what was queued; report the rest so they can be imported again.
            refused.extend(
                {
                    "line": e.line,
                    "title": e.title,
                    "url": u,
                    "reason": "The job queue is unavailable; import this one again later.",
                }
                for e, u in plan.accepted[index:]
            )
            break
        submitted.append(
            {
                "title": entry.title,
                "url": url,
                "feed_id": submission.feed.id,
                "fetch_id": str(submission.fetch.id),
            }
        )
    batch_id = uuid.uuid4().hex
    batch = {"name": upload.filename[:200], "submitted": submitted, "refused": refused}
    queues().redis.set(_batch_key(batch_id), json.dumps(batch), ex=BATCH_TTL)
    return redirect(url_for("opml.batch", batch_id=batch_id), code=303)


def _load_batch(batch_id: str) -> dict[str, list[dict[str, object]]]:
    if len(batch_id) != 32 or not batch_id.isalnum():
        abort(404)
    raw = queues().redis.get(_batch_key(batch_id))
    if raw is None:
        abort(404, "This import is unknown or older than a day.")
    return json.loads(raw)


def _progress(batch: dict[str, list[dict[str, object]]]) -> list[dict[str, object]]:
    """Each submitted entry with its fetch's current state (one query)."""
    ids = [uuid.UUID(str(entry["fetch_id"])) for entry in batch["submitted"]]
    fetches = fetches_by_id(db_session(), ids)
    rows = []
    for entry, fetch_id in zip(batch["submitted"], ids, strict=True):
        fetch = fetches.get(fetch_id)
        # A fetch that vanished belonged to a feed deleted meanwhile.
        state = fetch.state.value if fetch else "deleted"
        error = fetch.error_message if fetch and fetch.error_message else None
        advice = wording.advice(fetch.error_code) if fetch and fetch.error_code else ""
        rows.append(
            {
                **entry,
                "state": state,
                "error": error,
                "advice": advice,
                "items_new": fetch.items_new if fetch else None,
            }
        )
    return rows


_BADGE = {
    "queued": "queued",
    "running": "fetching",
    "succeeded": "ok",
    "failed": "error",
    "deleted": "gone",
}


def _summary(rows: list[dict[str, object]]) -> dict[str, int]:
    done = sum(1 for r in rows if r["state"] in ("succeeded", "failed", "deleted"))
    failed = sum(1 for r in rows if r["state"] == "failed")
    return {"total": len(rows), "done": done, "failed": failed, "pending": len(rows) - done}


@bp.get("/opml/batches/<batch_id>")
def batch(batch_id: str) -> str:
    """Progress of one import: each feed's fetch state, and the refused entries."""
    data = _load_batch(batch_id)
    rows = _progress(data)
    return render_template(
        "opml_batch.html",
        batch_id=batch_id,
        name=data.get("name"),
        rows=rows,
        refused=data["refused"],
        summary=_summary(rows),
        badge_of=_BADGE,
    )


@bp.get("/opml/batches/<batch_id>/progress")
def batch_progress(batch_id: str) -> Response:
    """The batch page's data as JSON, for the page's script to poll."""
    rows = _progress(_load_batch(batch_id))
    summary = _summary(rows)
    response = jsonify(
        summary=summary,
        fetches=[
            {
                "fetch_id": r["fetch_id"],
                "feed_id": r["feed_id"],
                "state": r["state"],
                "badge": _BADGE[str(r["state"])],
                "error": r["error"],
                "advice": r["advice"],
                "items_new": r["items_new"],
            }
            for r in rows
        ],
    )
    response.headers["Cache-Control"] = "no-store"
    if summary["pending"]:
        response.headers["Retry-After"] = "1" if summary["pending"] < 100 else "3"
    return response


@bp.get("/opml/export")
def export() -> Response:
    """Every feed as an OPML 2.0 download."""
    data = build_opml(
        OpmlEntry(0, feed.title or feed.current_url, feed.current_url, feed.site_url)
        for feed in all_feeds(db_session())
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        data,
        mimetype="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="feedqueue-{stamp}.opml"',
            "Cache-Control": "no-store",
        },
    )

"""The WebSub callback, ``/websub/<token>``: where hubs verify our requests and push content.

Public on purpose: hubs call it without a session. The token is random (256 bits)
and names one subscription, and every push must carry that subscription's HMAC
signature, so the URL grants nothing to whoever did not get it from us, and a body
without the signature is dropped. Answers are plain text, as hubs expect; the
decisions are app.services.websub's. Bodies are capped at WEBSUB_MAX_BYTES (413).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, request

from app.services import websub
from app.web.helpers import db_session, public, queues, settings

bp = Blueprint("websub", __name__)

_STATUS = {
    websub.Outcome.STORED: 202,
    websub.Outcome.NOT_OURS: 404,
    websub.Outcome.IGNORED: 202,
    websub.Outcome.RATE_LIMITED: 429,
    websub.Outcome.BUSY: 503,
    websub.Outcome.GONE: 410,
}


def _text(body: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


@bp.route("/websub/<token>", methods=["GET", "POST"])
@public
def callback(token: str) -> Response:
    """Verification of intent (GET) or content distribution (POST) for one subscription."""
    now = datetime.now(UTC)
    if request.method == "GET":
        answer = websub.verify_intent(db_session(), settings(), token, request.args.to_dict(), now)
        return _text(answer.text, answer.status)
    # Werkzeug answers 413 past the cap, declared or streamed, before we read more.
    request.max_content_length = settings().websub_max_bytes
    body = request.get_data(cache=False)
    outcome = websub.accept_delivery(
        db_session(), queues(), settings(), token, body, request.headers, now
    )
    retry = {websub.Outcome.RATE_LIMITED: "60", websub.Outcome.BUSY: "30"}.get(outcome)
    headers = {"Retry-After": retry} if retry else None
    return _text("", _STATUS[outcome], headers)

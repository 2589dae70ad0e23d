"""Accepting work over HTTP: feed submissions and refresh requests.

A submission subscribes the person who sent it. Both answer at once: 202 with
the fetch to poll (JSON clients), or 303 to the feed page (browser forms).
Nothing here touches the network.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from app.services.submissions import (
    QueueFull,
    QueueUnavailable,
    Refused,
    Submission,
    Subscriber,
    accepted_url,
    request_refresh,
    submit_url,
)
from app.web.helpers import (
    ApiError,
    current_user_id,
    db_session,
    fetch_status,
    get_feed_or_404,
    queues,
    rate_limited,
    render_home,
    settings,
    wants_json,
)

bp = Blueprint("submit", __name__)


def _submitted_url() -> object:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", 'Send a JSON object like {"url": "https://..."}.')
        return body.get("url")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get("url")
    raise ApiError(
        415,
        "unsupported_media_type",
        "Send the URL as JSON (application/json) or as a form field.",
    )


def _accepted(submission: Submission) -> Response:
    fetch = submission.fetch
    if not wants_json():
        return redirect(url_for("pages.feed", feed_id=submission.feed_id), code=303)
    body, headers = fetch_status(fetch, just_enqueued=submission.created)
    response = jsonify(
        fetch=body,
        status_url=body["status_url"],
        feed_url=body["feed_url"],
        created=submission.created,
    )
    response.status_code = 202
    response.headers.update(headers)
    response.headers["Location"] = str(body["status_url"])
    return response


def _queue_unavailable() -> ApiError:
    return ApiError(
        503,
        "queue_unavailable",
        "The job queue is unavailable; nothing was saved. Try again shortly.",
        {"Retry-After": "5"},
    )


def queue_full(err: QueueFull) -> ApiError:
    """503 queue_full: nothing was saved; the client should come back after Retry-After."""
    return ApiError(
        503,
        "queue_full",
        f"Too much work is waiting; nothing was saved. Try again in {err.retry_after} s. "
        f"({err.message})",
        {"Retry-After": str(err.retry_after)},
    )


@bp.post("/feeds")
@rate_limited
def submit_feed() -> Response:
    raw = _submitted_url()
    try:
        url = accepted_url(raw, settings())
    except Refused as err:
        # A person at the home form sees the problem beside the field, not an error page.
        if not wants_json():
            return render_home(form_error=err.message, submitted_url=raw)
        raise ApiError(400, err.code, err.message) from None
    try:
        subscriber = Subscriber.of(current_user_id(), settings())
        submission = submit_url(db_session(), queues(), url, subscriber)
    except QueueUnavailable:
        raise _queue_unavailable() from None
    except QueueFull as err:
        raise queue_full(err) from None
    return _accepted(submission)


@bp.post("/feeds/<int:feed_id>/refresh")
@rate_limited
def refresh_feed(feed_id: int) -> Response:
    feed = get_feed_or_404(feed_id)
    try:
        submission = request_refresh(db_session(), queues(), feed)
    except QueueUnavailable:
        raise _queue_unavailable() from None
    except QueueFull as err:
        raise queue_full(err) from None
    return _accepted(submission)

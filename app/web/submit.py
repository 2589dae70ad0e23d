"""Accepting work over HTTP: feed submissions and refresh requests.

Both answer at once: 202 with the fetch to poll (JSON clients), or 303 to the
feed page (browser forms). Nothing here touches the network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from app.jobs.submit import QueueUnavailable, Submission, request_refresh, submit_url
from app.pipeline import literal_host_blocked
from app.urls import InvalidURL, normalize_url
from app.web import db_session, queues, settings, wants_json
from app.web.api import fetch_status, get_feed_or_404
from app.web.errors import ApiError
from app.web.pages import index_with_form_error
from app.web.security import limiter, submission_limit

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


def _validated_url(raw: object) -> str:
    try:
        url = normalize_url(raw)
    except InvalidURL as exc:
        raise ApiError(400, exc.code, exc.message) from None
    config = settings()
    if not config.fetch_allow_private_networks and literal_host_blocked(url):
        if (urlsplit(url).hostname or "") not in config.fetch_allowed_hosts:
            raise ApiError(
                400,
                "blocked_address",
                "That address is on a private or local network, which feedqueue does not fetch.",
            )
    return url


def _accepted(submission: Submission) -> Response:
    fetch = submission.fetch
    if not wants_json():
        return redirect(url_for("pages.feed", feed_id=submission.feed.id), code=303)
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


@bp.post("/feeds")
@limiter.limit(submission_limit)
def submit_feed() -> Response:
    raw = _submitted_url()
    try:
        url = _validated_url(raw)
    except ApiError as err:
        # A person at the home form sees the problem beside the field, not an error page.
        if err.code in ("invalid_url", "blocked_address") and not wants_json():
            return index_with_form_error(err.message, raw)
        raise
    try:
        submission = submit_url(db_session(), queues(), url)
    except QueueUnavailable:
        raise _queue_unavailable() from None
    return _accepted(submission)


@bp.post("/feeds/<int:feed_id>/refresh")
@limiter.limit(submission_limit)
def refresh_feed(feed_id: int) -> Response:
    feed = get_feed_or_404(feed_id)
    try:
        submission = request_refresh(db_session(), queues(), feed)
    except QueueUnavailable:
        raise _queue_unavailable() from None
    return _accepted(submission)

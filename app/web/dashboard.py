"""The status dashboard: queues, workers, throughput and failures, plus admin actions.

For admin accounts only: failures name feeds and errors of everyone's feeds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError

from app.queue import status as queue_status
from app.services import feeds
from app.storage import stats
from app.web import charts
from app.web.helpers import ApiError, admin_required, db_session, queues

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)

CHART_MINUTES = 60
FAILURE_WINDOW = timedelta(hours=24)


def _charts(minutes: list[stats.MinuteStats]) -> dict[str, object]:
    labels = [m.minute.strftime("%H:%M") for m in minutes]
    throughput = charts.bar_chart(
        f"Fetches finished per minute, last {len(minutes)} minutes",
        labels,
        [
            charts.Series("succeeded", [m.succeeded for m in minutes], "ok"),
            charts.Series("failed", [m.failed for m in minutes], "err"),
        ],
    )
    latency = charts.line_chart(
        f"Fetch latency (submission to result) per minute, last {len(minutes)} minutes",
        labels,
        [
            charts.Series("average", [m.avg_latency if m.total else None for m in minutes], "avg"),
            charts.Series("slowest", [m.max_latency if m.total else None for m in minutes], "max"),
        ],
        unit="s",
    )
    finished = [m for m in minutes if m.total]
    total = sum(m.total for m in minutes)
    avg = sum(m.avg_latency * m.total for m in finished) / total if total else None
    return {
        "throughput": throughput,
        "latency": latency,
        "total": total,
        "failed": sum(m.failed for m in minutes),
        "per_minute": total / len(minutes) if minutes else 0,
        "avg_latency": avg,
        "max_latency": max((m.max_latency for m in finished), default=None),
    }


@bp.get("/status")
@admin_required
def status() -> str:
    """The dashboard page."""
    now = datetime.now(UTC)
    session = db_session()
    redis_error = None
    try:
        queue_infos = queue_status.queue_infos(queues(), now)
        worker_infos = queue_status.worker_infos(queues())
    except RedisError as exc:
        log.warning("status page: redis unavailable: %s", exc)
        queue_infos, worker_infos, redis_error = [], [], "Redis is unavailable."
    return render_template(
        "status.html",
        now=now,
        queues=queue_infos,
        workers=worker_infos,
        busy=sum(1 for w in worker_infos if w.state == "busy"),
        redis_error=redis_error,
        feed_states=stats.feed_state_counts(session),
        pending=stats.pending_fetch_counts(session),
        chart=_charts(stats.fetches_by_minute(session, now=now, minutes=CHART_MINUTES)),
        failures=stats.failures_by_code(session, since=now - FAILURE_WINDOW),
        failure_hours=int(FAILURE_WINDOW.total_seconds() // 3600),
    )


@bp.post("/status/requeue")
@admin_required
def requeue_failed() -> Response:
    """Fetch again every feed whose recent failures have the given error code."""
    code = (request.form.get("code") or "").strip()
    if not code or len(code) > 64:
        raise ApiError(400, "invalid_code", "Name the error code whose fetches to requeue.")
    since = datetime.now(UTC) - FAILURE_WINDOW
    requeued = feeds.requeue_failing(db_session(), queues(), code, since=since)
    queued = requeued.count
    if requeued.stopped:
        flash(f"The job queue is unavailable; requeued {queued} before it failed.", "error")
        return redirect(url_for("dashboard.status"), code=303)
    flash(f"Requeued {queued} feed{'s' if queued != 1 else ''} that failed with {code}.", "ok")
    return redirect(url_for("dashboard.status"), code=303)


@bp.post("/status/resume-paused")
@admin_required
def resume_paused() -> Response:
    """Resume every paused feed; the scheduler picks them up as due now."""
    count = feeds.resume_paused_feeds(db_session())
    flash(f"Resumed {count} paused feed{'s' if count != 1 else ''}.", "ok")
    return redirect(url_for("dashboard.status"), code=303)

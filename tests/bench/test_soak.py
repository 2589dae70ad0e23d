"""The soak bench's clock hands old fetch rows to retention, its counts take each fetch
once, and its summary finds growth and bad log lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.config import Settings
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger
from app.workers.retention import Pruner
from bench.soak_db import AdminConnection
from bench.soak_report import errors_in_logs, summary


def _fetches(db: Database, *finished_ago: timedelta | None) -> None:
    """One feed and a fetch per argument: finished that long ago, or still queued (None)."""
    now = datetime.now(UTC)
    with db.session() as session:
        feed = Feed(url="http://127.0.0.1/f.xml", current_url="http://127.0.0.1/f.xml",
                    state=FeedState.ACTIVE)  # fmt: skip
        session.add(feed)
        session.flush()
        for ago in finished_ago:
            session.add(
                Fetch(
                    feed_id=feed.id,
                    trigger=FetchTrigger.REFRESH,
                    state=FetchState.QUEUED if ago is None else FetchState.SUCCEEDED,
                    finished_at=None if ago is None else now - ago,
                )
            )
        session.commit()


def _admin(settings: Settings) -> AdminConnection:
    return AdminConnection((settings.database_url or "").replace("+psycopg2", ""))


def test_the_clock_ages_finished_rows_past_the_window_once_and_retention_deletes_them(
    settings: Settings, db: Database
) -> None:
    _fetches(db, timedelta(minutes=10), timedelta(minutes=1), None)
    admin = _admin(settings)
    try:
        # 360 times faster: the 2-day window is 8 minutes.
        assert admin.age_fetch_rows(speedup=360) == 1
        assert admin.age_fetch_rows(speedup=360) == 0
    finally:
        admin.conn.close()

    done = Pruner(db, settings).run(None)

    assert done.fetches == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Fetch)) == 2


def test_fetches_done_counts_each_finished_fetch_once(settings: Settings, db: Database) -> None:
    _fetches(db, timedelta(minutes=3), timedelta(seconds=5), None)
    admin = _admin(settings)
    try:
        first = admin.figures()
        second = admin.figures()
    finally:
        admin.conn.close()
    assert (first["fetches_done"], first["fetches_pending"]) == (2, 1)
    assert second["fetches_done"] == 2


def _result(sizes_mb: list[float], errors: dict[str, list[str]]) -> dict[str, object]:
    samples = [
        {"seconds": 600.0 * i, "db_bytes": int(mb * 10**6), "items": 0, "fetch_rows": 0,
         "fetches_done": 10 * i, "fetches_failed": 0, "fetches_pending": 0, "load": 1.0}
        for i, mb in enumerate(sizes_mb)
    ]  # fmt: skip
    peaks = {"redis": 9, "postgres": 8, "redis_memory": 10**6, "errors": []}
    rss = {"web": {"rss_mib": 200.0, "pss_mib": 150.0}}
    return {
        "seconds": samples[-1]["seconds"],
        "samples": samples,
        "peaks": peaks,
        "rss_peaks": rss,
        "submissions": {"202": 3, "503": 1},
        "logs": {"errors": errors},
    }


def test_summary_gives_the_growth_of_the_last_half_in_mb_per_hour() -> None:
    # Growing for the first half hour, flat for the second: 0 MB/hour over the last half.
    flat = summary(_result([10, 50, 90, 100, 100, 100, 100], {}))
    growing = summary(_result([10, 20, 30, 40, 50, 60, 70], {}))

    assert flat["slope_last_half_mb_per_hour"] == 0
    assert flat["db_mb"] == [10.0, 100.0, 100.0]
    assert growing["slope_last_half_mb_per_hour"] == 60
    assert growing["submissions_accepted"] == 3


def test_errors_in_logs_finds_refused_connections_oom_and_tracebacks(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(
        "at=info msg=fine\n"
        "redis.exceptions.ConnectionError: max number of clients reached\n"
        "Traceback (most recent call last):\n"
        "OOM command not allowed when used memory > 'maxmemory'\n"
    )
    found = errors_in_logs([log, tmp_path / "missing.log"])

    assert len(found["worker.log"]) == 3
    assert found["missing.log"] == []
    assert summary(_result([1, 1], found))["log_errors"] == 3

"""``python -m app.manage``, run as a one-off dyno runs it: a subprocess with the app's env."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import func, select

from app.storage.db import Database
from app.storage.models import Fetch, FetchState, FetchTrigger
from tests.conftest import ROOT
from tests.storage.rows import add_feed, add_fetch

NOW = datetime.now(UTC)
SUBMISSIONS = "rq:queue:feedqueue-test-submissions"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.manage", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _failed_feed(db: Database, url: str, code: str) -> int:
    with db.session() as session:
        feed = add_feed(session, url, last_error_code=code)
        add_fetch(session, feed, FetchState.FAILED, error_code=code, finished_at=NOW)
        session.commit()
        return feed.id


def test_stats_prints_feeds_fetches_queues_and_sizes(
    worker_env: dict[str, str], db: Database, redis: Redis
) -> None:
    with db.session() as session:
        add_feed(session)
        session.commit()
    result = manage(worker_env, "stats")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["feeds"]["new"] == 1
    assert stats["queues"] == {
        "feedqueue-test-submissions": 0,
        "feedqueue-test-refresh": 0,
        "feedqueue-test-icons": 0,
    }
    assert stats["database_bytes"] > 0 and "items" in stats["tables"]


def test_prune_now_deletes_what_retention_allows_to_the_end(
    worker_env: dict[str, str], db: Database, redis: Redis
) -> None:
    with db.session() as session:
        feed = add_feed(session)
        for _ in range(5):
            add_fetch(session, feed, FetchState.SUCCEEDED, finished_at=NOW - timedelta(days=3))
        add_fetch(session, feed, FetchState.SUCCEEDED, finished_at=NOW - timedelta(hours=12))
        session.commit()
    result = manage({**worker_env, "RETENTION_BATCH_SIZE": "2"}, "prune-now")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "deleted_fetches": 5,
        "deleted_items": 0,
        "deleted_feeds": 0,
    }
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Fetch)) == 1


def test_requeue_failed_with_a_code_requeues_only_the_feeds_failing_with_it(
    worker_env: dict[str, str], db: Database, redis: Redis
) -> None:
    crashed = _failed_feed(db, "https://a.example/f", "worker_crashed")
    _failed_feed(db, "https://b.example/f", "timeout")
    result = manage(worker_env, "requeue-failed", "--code", "worker_crashed")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"requeued": {"worker_crashed": 1}}
    with db.session() as session:
        pending = session.scalars(
            select(Fetch.feed_id).where(Fetch.state == FetchState.QUEUED)
        ).all()
        assert pending == [crashed]
        trigger = session.scalar(select(Fetch.trigger).where(Fetch.state == FetchState.QUEUED))
    assert trigger == FetchTrigger.MANUAL and redis.llen(SUBMISSIONS) == 1


def test_requeue_failed_without_a_code_requeues_every_failing_feed(
    worker_env: dict[str, str], db: Database, redis: Redis
) -> None:
    _failed_feed(db, "https://a.example/f", "worker_crashed")
    _failed_feed(db, "https://b.example/f", "timeout")
    result = manage(worker_env, "requeue-failed")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"requeued": {"timeout": 1, "worker_crashed": 1}}
    assert redis.llen(SUBMISSIONS) == 2


def test_requeue_failed_into_a_full_queue_says_so_and_exits_non_zero(
    worker_env: dict[str, str], db: Database, redis: Redis
) -> None:
    _failed_feed(db, "https://a.example/f", "timeout")
    result = manage({**worker_env, "QUEUE_MAX_JOBS": "1"}, "requeue-failed")
    assert result.returncode == 0, result.stderr
    redis.rpush(SUBMISSIONS, "someone-else")
    _failed_feed(db, "https://b.example/f", "timeout")
    result = manage({**worker_env, "QUEUE_MAX_JOBS": "1"}, "requeue-failed")
    assert result.returncode == 1 and "full or unavailable" in result.stdout


def test_without_database_url_a_command_exits_with_one_line(worker_env: dict[str, str]) -> None:
    env = {k: v for k, v in worker_env.items() if k != "DATABASE_URL"}
    result = manage(env, "stats")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["feedqueue: DATABASE_URL must be set"]


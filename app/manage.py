"""Maintenance commands for a one-off dyno: ``heroku run python -m app.manage <command>``.

- ``stats``: feeds by state, pending fetches, queue depths, table and database sizes (JSON);
- ``prune-now``: run retention to the end now, as housekeeping would over several ticks;
- ``requeue-failed [--code CODE] [--hours N]``: fetch again every feed whose latest
  failure in the last N hours (default 24) had CODE (default: any code).

Each reads the same settings as the dynos (DATABASE_URL, REDIS_URL, ...) and exits
non-zero with one line on stderr when it cannot do its work.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from app.config import ConfigError, Settings
from app.logs import configure_logging
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.services.feeds import requeue_failing
from app.storage import retention, stats
from app.storage.db import Database
from app.workers.retention import Pruner


def _stats(db: Database, queues: Queues) -> dict[str, object]:
    with db.session() as session:
        feeds = {state.value: n for state, n in stats.feed_state_counts(session).items()}
        pending = {state.value: n for state, n in stats.pending_fetch_counts(session).items()}
        tables = retention.table_sizes(session)
        size = retention.database_bytes(session)
    try:
        depths: dict[str, int | None] = {q.name: q.count for q in queues.in_priority_order}
        redis_bytes = int(queues.redis.info("memory")["used_memory"])  # type: ignore[index]
    except RedisError:
        depths, redis_bytes = {q.name: None for q in queues.in_priority_order}, None
    return {
        "feeds": feeds,
        "pending_fetches": pending,
        "queues": depths,
        "redis_used_memory_bytes": redis_bytes,
        "database_bytes": size,
        "tables": tables,
    }


def _requeue(db: Database, queues: Queues, code: str | None, hours: float) -> dict[str, object]:
    since = datetime.now(UTC) - timedelta(hours=hours)
    with db.session() as session:
        codes = [code] if code else [g.code for g in stats.failures_by_code(session, since=since)]
        requeued: dict[str, int] = {}
        for each in codes:
            result = requeue_failing(session, queues, each, since=since)
            requeued[each] = result.count
            if result.stopped:
                return {"requeued": requeued, "stopped": "the job queue is full or unavailable"}
    return {"requeued": requeued}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.manage", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stats", help="feeds, fetches, queues and sizes, as JSON")
    commands.add_parser("prune-now", help="delete what retention allows, now, to the end")
    requeue = commands.add_parser("requeue-failed", help="fetch failed feeds again")
    requeue.add_argument("--code", help="only failures with this error code (e.g. timeout)")
    requeue.add_argument("--hours", type=float, default=24.0, help="failures this recent")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"feedqueue: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    assert settings.database_url and settings.redis_url
    db = Database(settings.database_url, pool_size=1)
    queues = Queues(redis_from_url(settings.redis_url), settings)
    try:
        if args.command == "stats":
            result: dict[str, object] = _stats(db, queues)
        elif args.command == "prune-now":
            done = Pruner(db, settings).run(max_batches=None)
            result = {
                "deleted_fetches": done.fetches,
                "deleted_items": done.items,
                "deleted_feeds": done.feeds,
            }
        else:
            result = _requeue(db, queues, args.code, args.hours)
    except DBAPIError as exc:
        print(f"feedqueue: the database failed: {exc.orig}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
        queues.redis.close()
    print(json.dumps(result, indent=2, default=str))
    return 1 if "stopped" in result else 0


if __name__ == "__main__":
    sys.exit(main())

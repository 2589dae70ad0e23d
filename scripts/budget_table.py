"""docs/operations.md's connection-budget tables, generated from app/budget.py.

    python -m scripts.budget_table           # print the tables
    python -m scripts.budget_table --write   # put them into docs/operations.md between markers

tests/test_budget_docs.py fails when docs/operations.md holds anything else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.budget import POSTGRES_PLANS, REDIS_PLANS, Shape, compute, largest_formation
from app.config import Settings
from scripts.markers import replace_between

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
BEGIN = "<!-- budget tables: generated from app/budget.py by python -m scripts.budget_table -->"
END = "<!-- end of budget tables -->"

#: WEB_CONCURRENCY as Heroku's Python buildpack sets it, by dyno size.
DYNO_SIZES = {"basic / standard-1X": 2, "standard-2X": 4}


def defaults() -> Settings:
    """The settings as app.json deploys them (the URLs play no part in the budget)."""
    return Settings(env="test", database_url="unused", redis_url="unused")


def tables() -> str:
    """The budget at app.json's defaults, then the largest formation per plan pair."""
    s = defaults()
    reserve = s.connection_reserve
    at_defaults = compute(
        Shape.of(s), redis_limit=s.redis_max_connections,
        database_limit=s.database_max_connections, reserve=reserve,
    )
    out = [
        "At app.json's formation and defaults (Key-Value Store mini, Postgres essential-0, "
        "one basic web and one basic worker dyno):",
        "",
        at_defaults.table(),
        "",
        f"Largest formation per plan pair, with `CONNECTION_RESERVE={reserve}` and the other "
        f"settings at their defaults (`WORKER_CONCURRENCY={s.worker_concurrency}`, "
        f"`WORKER_THREADS={s.worker_threads}`, `GUNICORN_THREADS={s.gunicorn_threads}`); pools "
        "as derived (web / worker process). More than one dyno of a type needs standard-1X or "
        "larger dynos.",
        "",
    ]
    for size, web_concurrency in DYNO_SIZES.items():
        out += [
            f"Web dynos {size} (`WEB_CONCURRENCY={web_concurrency}`):",
            "",
            "| Key-Value Store | Postgres | web × worker dynos | settings to use | Redis pools "
            "| Postgres pools | Redis used | Postgres used |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for redis_plan, redis_limit in REDIS_PLANS.items():
            for pg_plan, pg_limit in POSTGRES_PLANS.items():
                best = largest_formation(
                    redis_limit, pg_limit, reserve=reserve, web_concurrency=web_concurrency,
                    web_threads=s.gunicorn_threads, worker_concurrency=s.worker_concurrency,
                    worker_threads=s.worker_threads,
                )
                if best is None:
                    out.append(f"| {redis_plan} | {pg_plan} | does not fit | | | | | |")
                    continue
                shape = best.shape
                env = (
                    f"`WEB_DYNOS={shape.web_dynos} WORKER_DYNOS={shape.worker_dynos} "
                    f"REDIS_MAX_CONNECTIONS={redis_limit} DATABASE_MAX_CONNECTIONS={pg_limit}`"
                )
                out.append(
                    f"| {redis_plan} | {pg_plan} | {shape.web_dynos} × {shape.worker_dynos} "
                    f"| {env} | {best.web_redis_pool} / {best.worker_redis_pool} "
                    f"| {best.web_db_pool} / {best.worker_db_pool} "
                    f"| {best.redis_total} of {redis_limit} | {best.database_total} of {pg_limit} |"
                )
        out.append("")
    return "\n".join(out).rstrip()


def with_tables(text: str) -> str:
    """``text`` with the part between the markers replaced by :func:`tables`."""
    return replace_between(text, BEGIN, END, tables(), "docs/operations.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/operations.md")
    args = parser.parse_args(argv)
    if args.write:
        OPERATIONS.write_text(with_tables(OPERATIONS.read_text()))
    else:
        sys.stdout.write(tables() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The reader benches' scratch database: recreate, migrate, fill, and explain queries.

bench.reader_plans (a small set, plans only) and bench.reader_scale (the issue's
full size, with latencies) share these: both capture each query exactly as the
storage function sends it and run it again under EXPLAIN.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session

from bench.stack import ROOT


def recreate(url: str) -> None:
    """Drop and create the scratch database at ``url``, then migrate it to head."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env={"DATABASE_URL": target.render_as_string(hide_password=False), "PATH": ""},
        check=True,
        capture_output=True,
    )


def drop(url: str) -> None:
    """Drop the scratch database at ``url`` (its disk space back)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    admin.dispose()


def run_sql(engine: Engine, sql: str, params: dict[str, object] | None = None) -> None:
    """Run a script of SQL statements in one transaction (psycopg2 formats ``%``)."""
    with engine.begin() as conn:
        if params is None:
            conn.exec_driver_sql(sql.replace("%", "%%"))
        else:
            conn.exec_driver_sql(sql, params)


def vacuum_analyze(engine: Engine) -> None:
    """VACUUM ANALYZE the whole database: visibility map for index-only scans, statistics."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Collect every (statement, parameters) the engine sends while the block runs."""
    captured: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def explain(engine: Engine, query: Callable[[Session], Any], *, analyze: bool = True) -> str:
    """The plan of the last statement ``query`` sends, run again under EXPLAIN.

    ``query`` runs in a session that is rolled back, and so is the explained
    statement: a write leaves nothing behind.
    """
    with statements(engine) as captured:
        with Session(engine) as session:
            query(session)
            session.rollback()
    statement, params = captured[-1]
    options = "ANALYZE, BUFFERS, COSTS OFF" if analyze else "COSTS OFF"
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(f"EXPLAIN ({options}) " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        conn.rollback()
    return plan

"""The scale-out bench runs end to end at a tiny size, and leaves no database behind."""

from __future__ import annotations

from sqlalchemy import create_engine, make_url, text

from app.config import normalize_database_url
from bench.scale_out import Plan, run
from bench.scale_report import markdown
from tests.dynos import free_port


def test_scale_out_bench_measures_refreshes_and_drops_its_database(
    service_urls: tuple[str, str],
) -> None:
    url = make_url(normalize_database_url(service_urls[0]))
    admin = url.set(database="postgres")
    name = f"{url.database}_scale"
    plan = Plan(
        feeds=1000,
        workers=(1,),
        seconds=5,
        warmup=5,
        hosts=4,
        # About 3 feeds come due each second for five minutes: the measured window falls
        # inside them however long a busy machine takes to start the dyno (with a
        # one-minute spread, a start that took most of it left every feed claimed at
        # once during the warm-up and none in the window).
        interval=300,
        server=admin.set(drivername="postgresql").render_as_string(hide_password=False),
        database=name,
        redis_url=service_urls[1],
        feed_port=free_port(),
    )

    result = run(plan)

    (row,) = result["runs"]
    assert row["claims"] > 0, {k: v for k, v in row.items() if k != "statements"}
    assert row["run_refreshes"] > 0
    assert row["failed"] == 0
    assert row["tables"]["feeds"]["updates"] > 0
    assert "| 1 |" in markdown(result)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        left = conn.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name})
    engine.dispose()
    assert left == 0

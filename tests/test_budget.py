"""The connection budget (app/budget.py): what each process may hold, and refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.budget import BudgetError, Shape, compute, largest_formation, plan, plan_from_env
from app.config import Settings
from scripts.budget_table import OPERATIONS, with_tables

ROOT = Path(__file__).resolve().parent.parent


def _settings(**changes: object) -> Settings:
    return replace(Settings(env="test", database_url="x", redis_url="y"), **changes)


def test_app_json_formation_at_defaults_leaves_five_of_twenty_free_on_both_plans() -> None:
    budget = plan(_settings())
    assert budget.redis_total <= 15 and budget.database_total <= 15


def test_defaults_are_app_json_plans_and_formation() -> None:
    app_json = json.loads((ROOT / "app.json").read_text())
    settings = _settings()
    assert {a["plan"] for a in app_json["addons"]} == {
        "heroku-postgresql:essential-0", "heroku-redis:mini"
    }
    assert (settings.redis_max_connections, settings.database_max_connections) == (20, 20)
    formation = app_json["formation"]
    assert (settings.web_dynos, settings.worker_dynos) == (
        formation["web"]["quantity"], formation["worker"]["quantity"]
    )


def test_a_worker_process_needs_one_dequeue_connection_whatever_its_threads() -> None:
    few = plan(_settings(worker_threads=2, redis_pool_size=2))
    many = plan(_settings(worker_threads=64, redis_pool_size=2))
    assert few.redis_total == many.redis_total


def test_a_second_worker_dyno_on_mini_is_refused_naming_the_settings() -> None:
    with pytest.raises(BudgetError, match="REDIS_MAX_CONNECTIONS=20.*WORKER_DYNOS \\(2\\)"):
        plan(_settings(worker_dynos=2))


def test_a_second_worker_dyno_fits_the_next_plans_up() -> None:
    budget = plan(
        _settings(worker_dynos=2, redis_max_connections=40, database_max_connections=40)
    )
    assert budget.redis_total <= 35 and budget.database_total <= 35


def test_the_budget_exactly_at_the_limit_fits_and_one_more_connection_does_not() -> None:
    shape = Shape.of(_settings())
    fixed = compute(shape, redis_limit=20, database_limit=20, reserve=5, redis_pool=2, db_pool=1)
    assert fixed.redis_total == 15  # 2 x (2 + 1) + 2 x (1 + 2) + 1 + 2
    with pytest.raises(BudgetError, match="REDIS_POOL_SIZE \\(3\\)"):
        compute(shape, redis_limit=20, database_limit=20, reserve=5, redis_pool=3, db_pool=1)


@pytest.mark.parametrize("web_concurrency", [2, 4, 5, 17])
def test_the_budget_follows_the_buildpacks_WEB_CONCURRENCY(web_concurrency: int) -> None:
    settings = _settings(
        web_concurrency=web_concurrency, redis_max_connections=200, database_max_connections=120
    )
    budget = plan(settings)
    web = next(r for r in budget.rows() if r.process == "web process")
    assert web.count == web_concurrency
    assert budget.redis_total <= 195 and budget.database_total <= 115


def test_seventeen_web_processes_do_not_fit_mini() -> None:
    with pytest.raises(BudgetError, match="WEB_CONCURRENCY \\(17\\)"):
        plan(_settings(web_concurrency=17))


def test_plan_from_env_reads_the_same_settings_as_Settings() -> None:
    environ = {"WEB_CONCURRENCY": "4", "REDIS_MAX_CONNECTIONS": "40", "DATABASE_MAX_CONNECTIONS":
               "40"}
    assert plan_from_env(environ) == plan(
        _settings(web_concurrency=4, redis_max_connections=40, database_max_connections=40)
    )


def test_largest_formation_fits_and_one_more_dyno_of_either_kind_does_not() -> None:
    budget = largest_formation(20, 20, reserve=5)
    assert budget is not None
    assert budget.redis_total <= 15 and budget.database_total <= 15
    for more in ({"web_dynos": budget.shape.web_dynos + 1},
                 {"worker_dynos": budget.shape.worker_dynos + 1}):
        with pytest.raises(BudgetError):
            compute(replace(budget.shape, **more), redis_limit=20, database_limit=20, reserve=5)


def _run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    return subprocess.run(
        cmd, cwd=ROOT, env={**base, "FEEDQUEUE_ENV": "test", **env}, capture_output=True,
        text=True, timeout=60,
    )


def test_gunicorn_refuses_a_formation_that_cannot_fit_with_one_line() -> None:
    result = _run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                   "--bind", "127.0.0.1:0", "app:create_app()"], WORKER_DYNOS="3")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "REDIS_MAX_CONNECTIONS" in line and "WORKER_DYNOS (3)" in line


def test_worker_refuses_a_formation_that_cannot_fit_with_one_line() -> None:
    result = _run(
        [sys.executable, "worker.py"], WORKER_DYNOS="3", DATABASE_URL="postgresql://127.0.0.1/x",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "WORKER_DYNOS (3)" in line


def test_operations_md_holds_the_tables_app_budget_computes() -> None:
    # After changing app/budget.py or a default: python -m scripts.budget_table --write
    assert OPERATIONS.read_text() == with_tables(OPERATIONS.read_text())

"""app.json keeps to Heroku's app.json schema and to what this app needs.

The rules are those of Heroku's "app.json Schema" reference (keys, env entries,
formation, add-ons, environments) plus the current plan and dyno-size names.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest

from app import config
from tests.conftest import ROOT

TOP_LEVEL_KEYS = {
    "name",
    "description",
    "keywords",
    "website",
    "repository",
    "logo",
    "success_url",
    "scripts",
    "env",
    "formation",
    "image",
    "addons",
    "buildpacks",
    "environments",
    "stack",
}
ENV_KEYS = {"description", "value", "required", "generator"}
DYNO_SIZES = {
    "eco",
    "basic",
    "standard-1x",
    "standard-2x",
    "performance-m",
    "performance-l",
    "performance-l-ram",
    "performance-xl",
    "performance-2xl",
}
# Read by gunicorn itself, not by app/config.py.
SERVER_VARS = {"GUNICORN_CMD_ARGS"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((ROOT / "app.json").read_text())


def procfile_types() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(
        (name.strip(), command.strip())
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    )


def test_only_keys_of_the_app_json_schema_are_used(manifest: dict[str, Any]) -> None:
    assert set(manifest) <= TOP_LEVEL_KEYS


def test_name_and_description_fit_the_schema_limits(manifest: dict[str, Any]) -> None:
    assert 3 <= len(manifest["name"]) <= 30
    assert len(manifest["description"]) <= 140
    assert all(isinstance(k, str) for k in manifest["keywords"])


def test_success_url_is_a_path_of_the_app(manifest: dict[str, Any]) -> None:
    assert manifest["success_url"].startswith("/")


def test_env_entries_are_strings_or_schema_objects(manifest: dict[str, Any]) -> None:
    for name, entry in manifest["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        if isinstance(entry, str):
            continue
        assert set(entry) <= ENV_KEYS, name
        assert entry.get("generator", "secret") == "secret", name
        assert isinstance(entry.get("value", ""), str), name
        assert isinstance(entry.get("required", True), bool), name


def test_secret_key_is_generated_per_app_and_never_shipped(manifest: dict[str, Any]) -> None:
    entry = manifest["env"]["SECRET_KEY"]
    assert entry["generator"] == "secret"
    assert "value" not in entry
    assert "value" not in manifest["env"].get("ADMIN_PASSWORD", {})


def test_every_declared_variable_is_one_the_app_reads(manifest: dict[str, Any]) -> None:
    known = {var.env for _field, var in config.declared()} | SERVER_VARS
    declared = set(manifest["env"]) | set(manifest["environments"]["test"].get("env", {}))
    assert declared <= known, declared - known


def test_formation_names_procfile_processes_with_valid_sizes(manifest: dict[str, Any]) -> None:
    processes = set(procfile_types()) - {"release"}
    assert set(manifest["formation"]) == processes
    for name, entry in manifest["formation"].items():
        assert set(entry) <= {"quantity", "size"}, name
        assert isinstance(entry["quantity"], int) and entry["quantity"] >= 1, name
        assert entry["size"].lower() in DYNO_SIZES, name


def test_addons_use_the_current_plan_names(manifest: dict[str, Any]) -> None:
    plans = []
    for addon in manifest["addons"]:
        if isinstance(addon, str):
            plans.append(addon)
        else:
            assert set(addon) <= {"plan", "as", "options"}
            plans.append(addon["plan"])
    assert "heroku-postgresql:essential-0" in plans
    assert "heroku-redis:mini" in plans
    # Retired plans (mini/basic Postgres, hobby-dev) would make the Heroku Button fail.
    assert not any(p.endswith((":hobby-dev", ":hobby-basic")) for p in plans)
    assert "heroku-postgresql:mini" not in plans and "heroku-postgresql:basic" not in plans


def test_the_python_buildpack_is_declared(manifest: dict[str, Any]) -> None:
    assert [b["url"] for b in manifest["buildpacks"]] == ["heroku/python"]


def test_heroku_ci_uses_in_dyno_services_and_has_a_test_script(manifest: dict[str, Any]) -> None:
    test_env = manifest["environments"]["test"]
    assert set(test_env["addons"]) == {"heroku-postgresql:in-dyno", "heroku-redis:in-dyno"}
    assert test_env["scripts"]["test"].strip()
    assert "alembic upgrade head" in test_env["scripts"]["test-setup"]
    assert test_env["env"]["FEEDQUEUE_ENV"] == "test"


def test_heroku_ci_runs_no_browser_tests(manifest: dict[str, Any]) -> None:
    # Heroku CI sets CI=true and has no Chromium, where browser tests fail rather than skip.
    command = shlex.split(manifest["environments"]["test"]["scripts"]["test"])
    pytest_args = command[command.index("pytest") + 1 :]
    assert "-m" in pytest_args and pytest_args[pytest_args.index("-m") + 1] == "not browser"


def test_heroku_ci_points_the_suite_at_the_in_dyno_services(manifest: dict[str, Any]) -> None:
    script = manifest["environments"]["test"]["scripts"]["test"]
    assert "TEST_DATABASE_URL=$DATABASE_URL" in script
    assert "TEST_REDIS_URL=$REDIS_URL" in script

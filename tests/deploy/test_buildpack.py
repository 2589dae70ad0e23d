"""What Heroku's Python buildpack does to the app, and how the repository answers it.

The buildpack reads the Python version from runtime.txt before .python-version, and its
profile script runs `export GUNICORN_CMD_ARGS=${GUNICORN_CMD_ARGS:-"--access-logfile -"}`
on every dyno, which would add gunicorn's access log to the app's own request line.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.deploy.test_procfile import procfile
from tests.dynos import WebDyno

# The buildpack's line, as its profile script runs it when a dyno starts.
BUILDPACK_PROFILE = 'export GUNICORN_CMD_ARGS=${GUNICORN_CMD_ARGS:-"--access-logfile -"}'
REQUESTS = 5

# gunicorn's effective settings for a command line, as a comparable JSON object.
_SETTINGS = """
import json, sys
from gunicorn.app.wsgiapp import WSGIApplication

sys.argv = ["gunicorn", *sys.argv[1:]]
cfg = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").cfg
def shown(value):
    return getattr(value, "__qualname__", None) or repr(value)
print(json.dumps({name: shown(s.get()) for name, s in sorted(cfg.settings.items())}))
"""


def app_json_value(name: str) -> str:
    return json.loads((ROOT / "app.json").read_text())["env"][name]["value"]


def after_buildpack_profile(env: dict[str, str]) -> dict[str, str]:
    """``env`` as a dyno's process sees it once the buildpack's profile script has run."""
    value = subprocess.run(
        ["bash", "-c", BUILDPACK_PROFILE + '; printf %s "$GUNICORN_CMD_ARGS"'],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {**env, "GUNICORN_CMD_ARGS": value}


def _config_vars(app_json: bool) -> dict[str, str]:
    """The dyno's config vars: with or without app.json's GUNICORN_CMD_ARGS."""
    return {"GUNICORN_CMD_ARGS": app_json_value("GUNICORN_CMD_ARGS")} if app_json else {}


# -- GUNICORN_CMD_ARGS ---------------------------------------------------------


def _lines_per_request(web: WebDyno) -> list[int]:
    """Send requests with unique paths, stop gunicorn (so every line is written) and
    count, for each request, the log lines that mention its path."""
    paths = [f"/deploy-probe-{uuid.uuid4().hex}" for _ in range(REQUESTS)]
    for path in paths:
        assert requests.get(web.base_url + path, timeout=5).status_code == 404
    assert web.terminate() == 0
    log = web.log_path.read_text().splitlines()
    return [sum(path in line for line in log) for path in paths]


@pytest.mark.parametrize(
    ("app_json", "lines"), [(True, 1), (False, 2)], ids=["app-json-set", "buildpack-default"]
)
def test_each_request_is_logged_once_with_app_jsons_gunicorn_cmd_args(
    start_web: Callable[..., WebDyno],
    worker_env: dict[str, str],
    app_json: bool,
    lines: int,
) -> None:
    # Without app.json's value the buildpack's default comes back: every request twice.
    env = after_buildpack_profile({**worker_env, **_config_vars(app_json)})
    web = start_web(workers=1, **{"GUNICORN_CMD_ARGS": env["GUNICORN_CMD_ARGS"]})
    assert _lines_per_request(web) == [lines] * REQUESTS


def _effective_settings(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """gunicorn's settings for the Procfile's web command under ``env``."""
    args = shlex.split(procfile()["web"])
    assert args[0] == "gunicorn"
    # The config file starts a metrics folder when none is set: keep it in tmp_path.
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PORT": "5000"}
    output = subprocess.run(
        [sys.executable, "-c", _SETTINGS, *args[1:]],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(output.splitlines()[-1])


def test_app_jsons_gunicorn_cmd_args_changes_no_other_setting(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    bare = {k: v for k, v in worker_env.items() if k != "GUNICORN_CMD_ARGS"}
    plain = _effective_settings(bare, tmp_path)
    ours = _effective_settings(after_buildpack_profile({**bare, **_config_vars(True)}), tmp_path)
    default = _effective_settings(after_buildpack_profile(bare), tmp_path)
    assert plain["accesslog"] == "None"
    assert ours == plain
    # The comparison sees what the buildpack's default changes.
    assert {k for k in plain if default[k] != plain[k]} == {"accesslog"}


def test_app_jsons_gunicorn_cmd_args_survives_the_buildpacks_default() -> None:
    # The profile keeps a value only when it is set and not empty.
    value = app_json_value("GUNICORN_CMD_ARGS")
    assert value.strip()
    assert after_buildpack_profile({"GUNICORN_CMD_ARGS": value})["GUNICORN_CMD_ARGS"] == value


# -- the Python version ----------------------------------------------------------


def _python_version_file() -> str:
    lines = (ROOT / ".python-version").read_text().splitlines()
    versions = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert len(versions) == 1, versions
    return versions[0]


def test_runtime_txt_is_a_version_the_python_buildpack_accepts() -> None:
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+(\.\d+)?", runtime), runtime


def test_python_version_file_is_a_version_the_python_buildpack_accepts() -> None:
    assert re.fullmatch(r"3\.\d+(\.\d+)?", _python_version_file())


def test_runtime_txt_and_python_version_name_the_same_version() -> None:
    # The buildpack uses runtime.txt; tools (pyenv, uv, `make lock`) use .python-version.
    runtime = (ROOT / "runtime.txt").read_text().strip().removeprefix("python-")
    assert runtime == _python_version_file()


def test_the_suite_runs_on_the_python_heroku_will_use() -> None:
    major, minor = _python_version_file().split(".")[:2]
    assert sys.version_info[:2] == (int(major), int(minor))

"""The Procfile's web command serves the app on $PORT with WEB_CONCURRENCY workers,
and its release command migrates (or says in one line why it cannot)."""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, inspect, make_url, text

from app.config import normalize_database_url
from tests.conftest import ROOT, wait_for

VENV_BIN = str(ROOT / ".venv" / "bin")


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(
        (name.strip(), command.strip())
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    )


def _run_as_heroku(command: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    """Run a Procfile command the way a dyno does: through a shell, from the app root."""
    path = VENV_BIN + os.pathsep + env.get("PATH", os.environ.get("PATH", ""))
    return subprocess.Popen(
        ["bash", "-c", command],
        cwd=ROOT,
        env={**env, "PATH": path},
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- gunicorn.conf.py ----------------------------------------------------------


def _gunicorn_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_web_process_is_gunicorn_with_the_repository_config() -> None:
    web = procfile()["web"]
    assert web.startswith("gunicorn ")
    assert "--config gunicorn.conf.py" in web
    assert "app:create_app()" in web
    assert "$PORT" not in web or "--bind" in web  # the port comes from the config file


def test_gunicorn_binds_every_interface_on_heroku_port(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _gunicorn_conf(monkeypatch, PORT="31337", WEB_CONCURRENCY="3")
    assert conf["bind"] == ["[::]:31337"]


def test_gunicorn_runs_web_concurrency_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Seven web processes need more connections than the smallest plans give (app/budget.py).
    plans = {"REDIS_MAX_CONNECTIONS": "200", "DATABASE_MAX_CONNECTIONS": "120"}
    assert _gunicorn_conf(monkeypatch, PORT="5000", WEB_CONCURRENCY="7", **plans)["workers"] == 7
    assert _gunicorn_conf(monkeypatch, PORT="5000", WEB_CONCURRENCY="1")["workers"] == 1


def test_gunicorn_stops_before_heroku_kills_the_dyno(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _gunicorn_conf(monkeypatch, PORT="5000", WEB_CONCURRENCY="1")
    assert int(conf["graceful_timeout"]) < 30  # SIGKILL comes 30 s after SIGTERM
    assert int(conf["timeout"]) < 30  # the router gives up at 30 s
    assert not conf.get("reload") and not conf.get("preload_app")


@pytest.fixture
def web_process(worker_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The Procfile web command, as production runs it, on a free loopback port."""
    port = _free_port()
    env = {
        **worker_env,
        "FEEDQUEUE_ENV": "production",
        "SECRET_KEY": "deploy-test-secret",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    log = (tmp_path / "web.log").open("w")
    proc = _run_as_heroku(
        procfile()["web"], env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "web.log").read_text()
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=30)
        yield base, str(tmp_path / "web.log")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        log.close()


def test_the_web_command_serves_healthz_on_port(web_process: tuple[str, str]) -> None:
    base, _log = web_process
    response = requests.get(base + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.text == "ok\n"


def test_the_web_command_starts_web_concurrency_workers(web_process: tuple[str, str]) -> None:
    _base, log = web_process
    wait_for(lambda: Path(log).read_text().count("Booting worker") >= 2, timeout=15)
    assert Path(log).read_text().count("Booting worker") == 2


def test_the_web_command_trusts_the_routers_https_header(web_process: tuple[str, str]) -> None:
    base, _log = web_process
    secure = requests.get(base + "/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=5)
    assert "Strict-Transport-Security" in secure.headers
    plain = requests.get(
        base + "/healthz", headers={"X-Forwarded-Proto": "http"}, timeout=5, allow_redirects=False
    )
    assert plain.status_code == 308 and plain.headers["Location"].startswith("https://")


# -- release phase -------------------------------------------------------------


@pytest.fixture
def scratch_database(migrated: str) -> Iterator[str]:
    """An empty database on the test server, named as Heroku would hand it over."""
    url = make_url(normalize_database_url(migrated))
    # Named after this run's test database: test runs side by side each have their own.
    scratch = f"{url.database}_release"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
    rendered = url.set(database=scratch).render_as_string(hide_password=False)
    # Heroku's spelling: postgres://, which the release command must accept.
    yield "postgres://" + rendered.split("://", 1)[1]
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    admin.dispose()


def _release(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TEST_"))}
    proc = _run_as_heroku(
        procfile()["release"],
        {**env, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def _schema(database_url: str) -> tuple[set[str], str | None]:
    engine = create_engine(normalize_database_url(database_url))
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            version = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in tables
                else None
            )
        return tables, version
    finally:
        engine.dispose()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from tests.conftest import alembic_config

    head = ScriptDirectory.from_config(alembic_config("unused")).get_current_head()
    assert head
    return head


def test_the_release_command_migrates_then_ensures_the_admin_account() -> None:
    assert procfile()["release"] == "alembic upgrade head && python -m scripts.admin"


def test_release_migrates_an_empty_database(scratch_database: str) -> None:
    result = _release(scratch_database)
    assert result.returncode == 0, result.stdout
    tables, version = _schema(scratch_database)
    assert {"feeds", "items", "fetches"} <= tables
    assert version == _head()


def test_release_on_an_up_to_date_database_is_a_no_op(scratch_database: str) -> None:
    assert _release(scratch_database).returncode == 0
    before = _schema(scratch_database)
    again = _release(scratch_database)
    assert again.returncode == 0, again.stdout
    assert "Running upgrade" not in again.stdout
    assert _schema(scratch_database) == before


@pytest.mark.parametrize("value", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_release_without_a_database_url_fails_with_one_clear_line(value: str | None) -> None:
    # Add-ons provision in the background: a first push before Postgres is attached runs
    # the release phase without DATABASE_URL. A failing release phase stops the deploy.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TEST_"))}
    if value is not None:
        env["DATABASE_URL"] = value
    proc = _run_as_heroku(
        procfile()["release"], env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "DATABASE_URL is not set" in lines[0]
    assert "heroku addons:wait" in lines[0]


def test_release_creates_the_admin_account_then_resets_its_password(
    scratch_database: str,
) -> None:
    from app.services.accounts import authenticate
    from app.storage.db import Database

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TEST_"))}
    for password in ("first password", "second password"):
        proc = _run_as_heroku(
            procfile()["release"],
            {**env, "DATABASE_URL": scratch_database, "ADMIN_USER": "boss",
             "ADMIN_PASSWORD": password},  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        assert "boss is an admin" in out
    db = Database(normalize_database_url(scratch_database), pool_size=1)
    with db.session() as session:
        user = authenticate(session, "boss", "second password")
        assert user is not None and user.is_admin
        assert authenticate(session, "boss", "first password") is None
    db.dispose()

"""Settings: one declaration each, read only here, with Heroku's quirks."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from app.config import (
    ConfigError,
    Settings,
    declared,
    normalize_database_url,
    rate_limit_storage_uri,
    read_setting,
    redis_client_options,
)
from app.queue.connection import redis_from_url
from scripts.settings_table import README, with_table

ROOT = Path(__file__).resolve().parent.parent

BASE = {"DATABASE_URL": "postgres://u:p@h:5432/d", "REDIS_URL": "redis://localhost:6379/0"}


def test_heroku_postgres_url_is_rewritten_for_psycopg2() -> None:
    assert normalize_database_url("postgres://u:p@h:5432/d") == "postgresql+psycopg2://u:p@h:5432/d"


def test_bare_postgresql_url_is_pinned_to_psycopg2() -> None:
    assert normalize_database_url("postgresql://h/d") == "postgresql+psycopg2://h/d"


def test_explicit_driver_is_kept() -> None:
    assert normalize_database_url("postgresql+psycopg2://h/d") == "postgresql+psycopg2://h/d"


def test_settings_read_database_url_from_environment() -> None:
    settings = Settings.from_env({**BASE, "SECRET_KEY": "s"})
    assert settings.database_url == "postgresql+psycopg2://u:p@h:5432/d"


def test_secret_key_is_required_in_production() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(BASE)


def test_secret_key_is_optional_in_development() -> None:
    settings = Settings.from_env({**BASE, "FEEDQUEUE_ENV": "development"})
    assert settings.effective_secret_key


def test_missing_database_url_fails_loudly() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings.from_env({"REDIS_URL": "redis://x", "SECRET_KEY": "s"})


def test_malformed_number_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="WORKER_CONCURRENCY"):
        Settings.from_env({**BASE, "SECRET_KEY": "s", "WORKER_CONCURRENCY": "many"})


def test_boolean_and_host_list_settings_are_parsed() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "SECRET_KEY": "s",
            "FETCH_ALLOW_PRIVATE_NETWORKS": "yes",
            "FETCH_ALLOWED_HOSTS": "Feeds.Internal., intranet",
        }
    )
    assert settings.fetch_allow_private_networks is True
    assert settings.fetch_allowed_hosts == frozenset({"feeds.internal", "intranet"})


def test_public_url_is_unset_by_default_so_feeds_are_only_polled() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).public_url is None


def test_public_url_loses_its_trailing_slash() -> None:
    environ = {**BASE, "SECRET_KEY": "s", "PUBLIC_URL": "https://my-app.herokuapp.com/"}
    assert Settings.from_env(environ).public_url == "https://my-app.herokuapp.com"


@pytest.mark.parametrize("value", ["my-app.herokuapp.com", "ftp://x", "https://x/?q=1"])
def test_a_public_url_that_is_no_http_base_address_fails_loudly(value: str) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Settings.from_env({**BASE, "SECRET_KEY": "s", "PUBLIC_URL": value})


def test_private_networks_are_off_by_default() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).fetch_allow_private_networks is False


def test_rediss_url_accepts_self_signed_certificates() -> None:
    assert redis_client_options("rediss://:pw@example.invalid:6380")["ssl_cert_reqs"] is None
    client = redis_from_url("rediss://:pw@example.invalid:6380")
    assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] is None


def test_plain_redis_url_has_no_tls_options() -> None:
    assert "ssl_cert_reqs" not in redis_client_options("redis://localhost:6379/0")
    client = redis_from_url("redis://localhost:6379/0")
    assert "ssl_cert_reqs" not in client.connection_pool.connection_kwargs


def test_the_rate_limiter_reaches_rediss_and_unix_sockets_by_the_same_rules() -> None:
    assert rate_limit_storage_uri("rediss://h:6380/0") == "rediss://h:6380/0?ssl_cert_reqs=none"
    assert rate_limit_storage_uri("rediss://h/0?a=1") == "rediss://h/0?a=1&ssl_cert_reqs=none"
    assert rate_limit_storage_uri("unix:///tmp/r.sock") == "redis+unix:///tmp/r.sock"
    assert rate_limit_storage_uri("redis://h:6379/0") == "redis://h:6379/0"


def test_secrets_are_left_out_of_the_printable_settings() -> None:
    shown = Settings.from_env({**BASE, "SECRET_KEY": "s", "ADMIN_PASSWORD": "pw"}).as_dict()
    assert "secret_key" not in shown and "admin_password" not in shown


def test_worker_nice_defaults_to_ten_and_refuses_values_outside_0_to_19() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).worker_nice == 10
    assert Settings.from_env({**BASE, "SECRET_KEY": "s", "WORKER_NICE": "0"}).worker_nice == 0
    with pytest.raises(ConfigError, match="WORKER_NICE"):
        Settings.from_env({**BASE, "SECRET_KEY": "s", "WORKER_NICE": "20"})


def test_cpu_placement_is_detected_by_default_and_can_be_forced_either_way() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).pin_cpus == "auto"
    assert Settings.from_env({**BASE, "SECRET_KEY": "s", "PIN_CPUS": "AUTO"}).pin_cpus == "auto"
    assert Settings.from_env({**BASE, "SECRET_KEY": "s", "PIN_CPUS": "true"}).pin_cpus is True
    assert Settings.from_env({**BASE, "SECRET_KEY": "s", "PIN_CPUS": "false"}).pin_cpus is False


def test_one_setting_can_be_read_alone_and_is_checked_the_same_way() -> None:
    assert read_setting("pin_cpus", {"PIN_CPUS": "yes"}) is True
    assert read_setting("worker_threads", {}) == 48
    with pytest.raises(ConfigError, match="PIN_CPUS"):
        read_setting("pin_cpus", {"PIN_CPUS": "sometimes"})


def test_every_setting_names_one_variable_a_parser_and_a_description() -> None:
    variables = [var.env for _field, var in declared()]
    assert len(variables) == len(set(variables))
    assert all(var.doc and callable(var.parse) for _field, var in declared())


def test_readme_configuration_table_is_the_one_the_declarations_give() -> None:
    # After changing a setting: python -m scripts.settings_table --write
    readme = README.read_text()
    assert with_table(readme) == readme


def test_web_dyno_settings_are_read_and_checked_like_the_others() -> None:
    env = {**BASE, "SECRET_KEY": "s", "PORT": "8123", "WEB_CONCURRENCY": "3"}
    settings = Settings.from_env({**env, "GUNICORN_THREADS": "8"})
    assert (settings.port, settings.web_concurrency, settings.gunicorn_threads) == (8123, 3, 8)
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).port == 5000
    with pytest.raises(ConfigError, match="PORT"):
        Settings.from_env({**BASE, "SECRET_KEY": "s", "PORT": "70000"})


def test_dyno_name_is_herokus_dyno_when_set() -> None:
    settings = Settings.from_env({**BASE, "SECRET_KEY": "s", "DYNO": "worker.3"})
    assert settings.dyno_name("worker") == "worker.3"


def test_without_dyno_a_web_and_a_worker_on_one_host_get_different_names() -> None:
    settings = Settings.from_env({**BASE, "SECRET_KEY": "s"})
    host = socket.gethostname()
    assert settings.dyno_name("web") == f"{host}.web"
    assert settings.dyno_name("worker") == f"{host}.worker"


def _reads_the_environment(path: Path) -> list[int]:
    """Lines of ``path`` that read os.environ or call os.getenv (writing is allowed)."""
    tree = ast.parse(path.read_text())
    stores = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in ("environ", "getenv")
        and id(node) not in stores
    ]


def test_only_the_config_module_reads_the_environment() -> None:
    sources = [
        *(ROOT / "app").rglob("*.py"),
        ROOT / "worker.py",
        ROOT / "gunicorn.conf.py",
        ROOT / "migrations" / "env.py",
    ]
    readers = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if path.name != "config.py" and (lines := _reads_the_environment(path))
    }
    assert readers == {}


def test_fetch_allowed_ports_default_to_80_443_and_the_unprivileged_range() -> None:
    settings = Settings.from_env({**BASE, "FEEDQUEUE_ENV": "test"})
    assert settings.fetch_allowed_ports == ((80, 80), (443, 443), (1024, 65535))


def test_fetch_allowed_ports_read_ports_and_ranges() -> None:
    env = {**BASE, "FEEDQUEUE_ENV": "test", "FETCH_ALLOWED_PORTS": " 443, 8000-8080 ,80"}
    assert Settings.from_env(env).fetch_allowed_ports == ((80, 80), (443, 443), (8000, 8080))


@pytest.mark.parametrize("value", ["0", "65536", "9000-8000", "http", ",", "80-"])
def test_a_malformed_port_list_fails_loudly(value: str) -> None:
    with pytest.raises(ConfigError, match="FETCH_ALLOWED_PORTS"):
        Settings.from_env({**BASE, "FEEDQUEUE_ENV": "test", "FETCH_ALLOWED_PORTS": value})


def test_items_kept_per_feed_may_equal_the_items_of_a_document_but_not_fall_below() -> None:
    env = {**BASE, "FEEDQUEUE_ENV": "test", "FETCH_MAX_ITEMS": "300"}
    assert Settings.from_env({**env, "RETENTION_ITEMS_PER_FEED": "300"})
    with pytest.raises(ConfigError, match="RETENTION_ITEMS_PER_FEED"):
        Settings.from_env({**env, "RETENTION_ITEMS_PER_FEED": "299"})


def test_a_fetch_deadline_at_or_beyond_the_job_timeout_is_refused() -> None:
    env = {**BASE, "FEEDQUEUE_ENV": "test", "JOB_TIMEOUT": "60"}
    assert Settings.from_env({**env, "FETCH_DEADLINE": "59.5"})
    for deadline in ("60", "120"):
        with pytest.raises(ConfigError, match="FETCH_DEADLINE < JOB_TIMEOUT"):
            Settings.from_env({**env, "FETCH_DEADLINE": deadline})


@pytest.mark.parametrize(
    "variable",
    ["QUEUE_MAX_JOBS", "RETENTION_FETCH_DAYS", "RETENTION_ITEM_DAYS", "RETENTION_BATCH_SIZE"],
)
def test_capacity_and_retention_limits_must_be_positive(variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({**BASE, "FEEDQUEUE_ENV": "test", variable: "0"})

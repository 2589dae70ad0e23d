from __future__ import annotations

import pytest

from app.config import ConfigError, Settings, normalize_database_url, read_setting
from app.queue import redis_from_url

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


def test_private_networks_are_off_by_default() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).fetch_allow_private_networks is False


def test_rediss_url_accepts_self_signed_certificates() -> None:
    client = redis_from_url("rediss://:pw@example.invalid:6380")
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["ssl_cert_reqs"] is None


def test_plain_redis_url_has_no_tls_options() -> None:
    client = redis_from_url("redis://localhost:6379/0")
    assert "ssl_cert_reqs" not in client.connection_pool.connection_kwargs


def test_secrets_are_left_out_of_the_printable_settings() -> None:
    shown = Settings.from_env({**BASE, "SECRET_KEY": "s", "ADMIN_PASSWORD": "pw"}).as_dict()
    assert "secret_key" not in shown and "admin_password" not in shown


def test_worker_nice_defaults_to_ten_and_refuses_values_outside_0_to_19() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).worker_nice == 10
    assert Settings.from_env({**BASE, "SECRET_KEY": "s", "WORKER_NICE": "0"}).worker_nice == 0
    with pytest.raises(ConfigError, match="WORKER_NICE"):
        Settings.from_env({**BASE, "SECRET_KEY": "s", "WORKER_NICE": "20"})


def test_processes_are_left_to_the_kernels_cpu_placement_unless_asked() -> None:
    assert Settings.from_env({**BASE, "SECRET_KEY": "s"}).pin_cpus is False
    assert Settings.from_env({**BASE, "SECRET_KEY": "s", "PIN_CPUS": "true"}).pin_cpus is True


def test_one_setting_can_be_read_alone_and_is_checked_the_same_way() -> None:
    assert read_setting("pin_cpus", {"PIN_CPUS": "yes"}) is True
    assert read_setting("worker_threads", {}) == 16
    with pytest.raises(ConfigError, match="PIN_CPUS"):
        read_setting("pin_cpus", {"PIN_CPUS": "sometimes"})

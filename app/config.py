"""Every setting feedqueue reads from the environment, in one place.

Each setting has a default (or none, when a missing value must stop the app
from starting) and a parser that fails loudly on a bad value. Heroku's quirks
(``postgres://`` URLs, ``rediss://`` with self-signed certificates) are
handled here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the process should not start."""


def normalize_database_url(url: str) -> str:
    """Return a SQLAlchemy URL that uses psycopg2, whatever spelling Heroku gave.

    Heroku sets ``postgres://``, which SQLAlchemy no longer accepts, and
    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which we do not ship.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"expected zero or a positive integer, got {value!r}")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(f"expected zero or a positive number, got {value!r}")
    return number


def _nice_increment(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 19:
        raise ValueError(f"expected 0 to 19, got {value!r}")
    return number


def _graphite_url(value: str) -> str:
    if not value.startswith("tcp://") or ":" not in value[len("tcp://") :]:
        raise ValueError("expected tcp://host:port")
    return value


def _host_list(value: str) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in value.split(",") if h.strip())


def _env_name(value: str) -> str:
    if value not in {"development", "test", "production"}:
        raise ValueError("expected development, test or production")
    return value


# Setting name -> (environment variable, parser, default). A default of None
# with required=True in Settings.from_env means: must be set in production.
_TABLE: dict[str, tuple[str, object, object]] = {
    "env": ("FEEDQUEUE_ENV", _env_name, "production"),
    "database_url": ("DATABASE_URL", normalize_database_url, None),
    "redis_url": ("REDIS_URL", str, None),
    "secret_key": ("SECRET_KEY", str, None),
    "log_level": ("LOG_LEVEL", str.upper, "INFO"),
    "worker_concurrency": ("WORKER_CONCURRENCY", _positive_int, 2),
    "worker_threads": ("WORKER_THREADS", _positive_int, 16),
    "worker_nice": ("WORKER_NICE", _nice_increment, 10),
    "pin_cpus": ("PIN_CPUS", _bool, False),
    "db_pool_size": ("DB_POOL_SIZE", _positive_int, 4),
    "queue_prefix": ("QUEUE_PREFIX", str, "feedqueue"),
    "job_timeout": ("JOB_TIMEOUT", _positive_int, 60),
    "shutdown_grace": ("SHUTDOWN_GRACE_SECONDS", _positive_float, 10.0),
    "schedule_every": ("SCHEDULE_EVERY_SECONDS", _positive_float, 5.0),
    "reconcile_every": ("RECONCILE_EVERY_SECONDS", _positive_float, 15.0),
    "reconcile_queued_grace": ("RECONCILE_QUEUED_GRACE_SECONDS", _positive_float, 60.0),
    "feed_max_errors": ("FEED_MAX_ERRORS", _positive_int, 10),
    "fetch_connect_timeout": ("FETCH_CONNECT_TIMEOUT", _positive_float, 5.0),
    "fetch_read_timeout": ("FETCH_READ_TIMEOUT", _positive_float, 15.0),
    "fetch_deadline": ("FETCH_DEADLINE", _positive_float, 30.0),
    "fetch_max_bytes": ("FETCH_MAX_BYTES", _positive_int, 10 * 1024 * 1024),
    "fetch_max_redirects": ("FETCH_MAX_REDIRECTS", int, 5),
    "fetch_max_items": ("FETCH_MAX_ITEMS", _positive_int, 500),
    "fetch_user_agent": (
        "FETCH_USER_AGENT",
        str,
        "feedqueue/1.0 (+https://github.com/feedqueue/feedqueue)",
    ),
    "fetch_allow_private_networks": ("FETCH_ALLOW_PRIVATE_NETWORKS", _bool, False),
    "fetch_allowed_hosts": ("FETCH_ALLOWED_HOSTS", _host_list, frozenset()),
    "fetch_retries": ("FETCH_RETRIES", int, 3),
    # Bounded parsing: caps on a document, on what it stores, and on the parser
    # processes that read it (docs/fetching.md#parsing-limits).
    "fetch_max_items_read": ("FETCH_MAX_ITEMS_READ", _positive_int, 2000),
    "fetch_max_elements": ("FETCH_MAX_ELEMENTS", _positive_int, 200_000),
    "fetch_max_depth": ("FETCH_MAX_DEPTH", _positive_int, 100),
    "fetch_max_attribute_bytes": ("FETCH_MAX_ATTRIBUTE_BYTES", _positive_int, 64 * 1024),
    "fetch_max_field_bytes": ("FETCH_MAX_FIELD_BYTES", _positive_int, 512 * 1024),
    "fetch_max_stored_bytes": ("FETCH_MAX_STORED_BYTES", _positive_int, 16 * 1024 * 1024),
    "parser_processes": ("PARSER_PROCESSES", _non_negative_int, 1),
    "parser_memory_mb": ("PARSER_MEMORY_MB", _positive_int, 256),
    "parser_cpu_seconds": ("PARSER_CPU_SECONDS", _positive_float, 10.0),
    "host_concurrency": ("FETCH_HOST_CONCURRENCY", _positive_int, 2),
    "host_per_minute": ("FETCH_HOST_PER_MINUTE", _positive_int, 60),
    "refresh_default": ("REFRESH_DEFAULT_SECONDS", _positive_int, 30 * 60),
    "refresh_min": ("REFRESH_MIN_SECONDS", _positive_int, 5 * 60),
    "refresh_max": ("REFRESH_MAX_SECONDS", _positive_int, 24 * 60 * 60),
    "refresh_batch_size": ("REFRESH_BATCH_SIZE", _positive_int, 20),
    "submit_rate_limit": ("SUBMIT_RATE_LIMIT", str, "30 per minute;300 per hour"),
    "admin_user": ("ADMIN_USER", str, None),
    "admin_password": ("ADMIN_PASSWORD", str, None),
    "metrics_token": ("METRICS_TOKEN", str, None),
    "runtime_metrics_interval": ("RUNTIME_METRICS_INTERVAL", _non_negative_float, 20.0),
    "dyno_memory_quota_mb": ("DYNO_MEMORY_QUOTA_MB", _positive_float, None),
    "graphite_url": ("GRAPHITE_URL", _graphite_url, None),
    "hostedgraphite_apikey": ("HOSTEDGRAPHITE_APIKEY", str, None),
}


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> object:
    """One setting (a Settings field name), read and parsed as Settings.from_env does.

    For gunicorn.conf.py, whose hooks run in gunicorn's master, before any app.
    """
    environ = os.environ if environ is None else environ
    var, parse, default = _TABLE[name]
    raw = environ.get(var)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)  # type: ignore[operator]
    except ValueError as exc:
        raise ConfigError(f"{var}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    """The app's configuration; build it with :meth:`from_env`."""

    env: str = "production"
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    log_level: str = "INFO"
    worker_concurrency: int = 2
    worker_threads: int = 16
    worker_nice: int = 10
    pin_cpus: bool = False
    db_pool_size: int = 4
    queue_prefix: str = "feedqueue"
    job_timeout: int = 60
    shutdown_grace: float = 10.0
    schedule_every: float = 5.0
    reconcile_every: float = 15.0
    reconcile_queued_grace: float = 60.0
    feed_max_errors: int = 10
    fetch_connect_timeout: float = 5.0
    fetch_read_timeout: float = 15.0
    fetch_deadline: float = 30.0
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_max_redirects: int = 5
    fetch_max_items: int = 500
    fetch_user_agent: str = "feedqueue/1.0 (+https://github.com/feedqueue/feedqueue)"
    fetch_allow_private_networks: bool = False
    fetch_allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    fetch_retries: int = 3
    fetch_max_items_read: int = 2000
    fetch_max_elements: int = 200_000
    fetch_max_depth: int = 100
    fetch_max_attribute_bytes: int = 64 * 1024
    fetch_max_field_bytes: int = 512 * 1024
    fetch_max_stored_bytes: int = 16 * 1024 * 1024
    parser_processes: int = 1
    parser_memory_mb: int = 256
    parser_cpu_seconds: float = 10.0
    host_concurrency: int = 2
    host_per_minute: int = 60
    refresh_default: int = 30 * 60
    refresh_min: int = 5 * 60
    refresh_max: int = 24 * 60 * 60
    refresh_batch_size: int = 20
    submit_rate_limit: str = "30 per minute;300 per hour"
    admin_user: str | None = None
    admin_password: str | None = None
    metrics_token: str | None = None
    runtime_metrics_interval: float = 20.0
    dyno_memory_quota_mb: float | None = None
    graphite_url: str | None = None
    hostedgraphite_apikey: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from ``environ`` (default: ``os.environ``); ``overrides`` win."""
        values: dict[str, object] = {name: read_setting(name, environ) for name in _TABLE}
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse to run with settings that would fail later or be unsafe."""
        missing = [
            var
            for name, var in (("database_url", "DATABASE_URL"), ("redis_url", "REDIS_URL"))
            if not getattr(self, name)
        ]
        if missing:
            raise ConfigError(f"{', '.join(missing)} must be set")
        if self.env == "production" and not self.secret_key:
            raise ConfigError("SECRET_KEY must be set outside development")
        if self.fetch_max_items_read < self.fetch_max_items:
            raise ConfigError("need FETCH_MAX_ITEMS <= FETCH_MAX_ITEMS_READ")
        if not self.refresh_min <= self.refresh_default <= self.refresh_max:
            raise ConfigError(
                "need REFRESH_MIN_SECONDS <= REFRESH_DEFAULT_SECONDS <= REFRESH_MAX_SECONDS"
            )

    @property
    def effective_secret_key(self) -> str:
        """The secret key; development and tests fall back to a fixed, public one."""
        return self.secret_key or _DEV_SECRET

    @property
    def admin_enabled(self) -> bool:
        """Admin pages exist only when both credentials are configured."""
        return bool(self.admin_user and self.admin_password)

    def as_dict(self) -> dict[str, object]:
        """Settings without secrets, for logs and the dashboard."""
        hidden = {
            "secret_key",
            "admin_password",
            "database_url",
            "redis_url",
            "metrics_token",
            "hostedgraphite_apikey",
        }
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in hidden}


# Shared by every process of a development run so sessions survive across
# gunicorn workers; check() refuses it in production.
_DEV_SECRET = "development-only-secret-not-for-production"

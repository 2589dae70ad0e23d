"""Every setting feedqueue reads from the environment, each declared once.

A setting is one field of :class:`Settings`: its name, type and default, and
in its metadata the environment variable, the parser that fails loudly on a bad
value, and a one-line description (README's configuration table is generated
from these, see scripts/settings_table.py). Nothing else in the app reads the
environment. Heroku's quirks are handled here and nowhere else: ``postgres://``
URLs (:func:`normalize_database_url`), ``rediss://`` with self-signed
certificates (:func:`redis_client_options`, :func:`rate_limit_storage_uri`) and
dyno names outside Heroku (:meth:`Settings.dyno_name`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the process should not start."""


@dataclass(frozen=True)
class Var:
    """How one setting is read: environment variable, parser, description and flags."""

    env: str
    parse: Callable[[str], object]
    doc: str
    required: bool = False  # the process refuses to start without it
    secret: bool = False  # left out of Settings.as_dict()
    shown_default: str | None = None  # the README's words for the default, where a value misleads


def setting(
    env: str,
    default: object,
    parse: Callable[[str], object],
    doc: str,
    *,
    required: bool = False,
    secret: bool = False,
    shown_default: str | None = None,
) -> object:
    """Declare one setting (a field of Settings)."""
    meta = {"var": Var(env, parse, doc, required, secret, shown_default)}
    if isinstance(default, frozenset):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def normalize_database_url(url: str) -> str:
    """Return a SQLAlchemy URL that uses psycopg2, whatever spelling Heroku gave.

    Heroku sets ``postgres://``, which SQLAlchemy no longer accepts, and
    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which we do not ship.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def redis_client_options(url: str) -> dict[str, object]:
    """redis-py options for a client of ``url``: short timeouts, no retry on timeout.

    Heroku Key-Value Store gives ``rediss://`` URLs whose certificates are
    self-signed, and redis-py verifies certificates by default; the connection
    is still encrypted, just not authenticated by a CA.
    """
    options: dict[str, object] = {
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 30,
        "retry_on_timeout": False,
    }
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = None
    return options


def rate_limit_storage_uri(url: str | None) -> str:
    """The rate limiter's storage URI for the Redis at ``url`` (the same TLS rule)."""
    url = url or "memory://"
    if url.startswith("unix://"):
        return "redis+" + url  # the limits library's spelling of a Redis socket
    if url.startswith("rediss://"):
        return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"
    return url


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _bool_or_auto(value: str) -> bool | str:
    """``auto`` as is; anything else as a boolean."""
    if value.strip().lower() == "auto":
        return "auto"
    return _bool(value)


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


def _port(value: str) -> int:
    number = int(value)
    if not 0 < number < 65536:
        raise ValueError(f"expected a TCP port, got {value!r}")
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


#: Where a feed server may listen: the web's ports and the unprivileged range, never
#: mail, SSH or database ports below 1024. Inclusive (first, last) ranges.
PortRanges = tuple[tuple[int, int], ...]
DEFAULT_PORTS: PortRanges = ((80, 80), (443, 443), (1024, 65535))


def _port_ranges(value: str) -> PortRanges:
    ranges: list[tuple[int, int]] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        first, last = _port(low.strip()), _port((high if dash else low).strip())
        if first > last:
            raise ValueError(f"expected a range low-high, got {part!r}")
        ranges.append((first, last))
    if not ranges:
        raise ValueError("expected at least one port")
    return tuple(sorted(ranges))


def _public_url(value: str) -> str:
    url = value.strip().rstrip("/")
    if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
        raise ValueError(f"expected an http(s) base address (https://app.example), got {value!r}")
    return url


def _env_name(value: str) -> str:
    if value not in {"development", "test", "production"}:
        raise ValueError("expected development, test or production")
    return value


@dataclass(frozen=True)
class Settings:
    """The app's configuration; build it with :meth:`from_env`."""

    # -- services and secrets ------------------------------------------------------
    database_url: str | None = setting(
        "DATABASE_URL", None, normalize_database_url,
        "Postgres; Heroku's `postgres://` is rewritten for psycopg2",
        required=True, secret=True,
    )
    redis_url: str | None = setting(
        "REDIS_URL", None, str,
        "Redis; `rediss://` accepts Heroku's self-signed certificates",
        required=True, secret=True,
    )
    secret_key: str | None = setting(
        "SECRET_KEY", None, str,
        "signs sessions, CSRF tokens and Google Reader API tokens (changing it signs "
        "reader apps out)",
        secret=True, shown_default="(required in production)",
    )
    env: str = setting(
        "FEEDQUEUE_ENV", "production", _env_name,
        "`development` and `test` relax `SECRET_KEY`",
    )
    log_level: str = setting(
        "LOG_LEVEL", "INFO", str.upper,
        "log level of every process",
    )
    # -- web dyno ----------------------------------------------------------------
    port: int = setting(
        "PORT", 5000, _port,
        "the port gunicorn binds (Heroku sets it)",
    )
    web_concurrency: int = setting(
        "WEB_CONCURRENCY", 2, _positive_int,
        "gunicorn worker processes (Heroku sets it per dyno size)",
    )
    gunicorn_threads: int = setting(
        "GUNICORN_THREADS", 4, _positive_int,
        "request threads per gunicorn worker process",
    )
    submit_rate_limit: str = setting(
        "SUBMIT_RATE_LIMIT", "30 per minute;300 per hour", str,
        "per client, on submissions, refreshes and OPML imports",
    )
    admin_user: str | None = setting(
        "ADMIN_USER", None, str,
        "the admin account, created (or its password reset) at start by `python -m "
        "scripts.admin` (release phase, `make run`); also the `/metrics` Basic user",
    )
    admin_password: str | None = setting(
        "ADMIN_PASSWORD", None, str,
        "the admin's password",
        secret=True,
    )
    signup_enabled: bool = setting(
        "SIGNUP_ENABLED", True, _bool,
        "anyone may create an account at `/signup`; off: only the first account (the admin) "
        "can be created there",
    )
    login_rate_limit: str = setting(
        "LOGIN_RATE_LIMIT", "10 per minute;100 per hour", str,
        "per client, on sign-in, sign-up, password changes, and HTTP Basic API sign-ins, "
        "Fever API keys and Google Reader API ClientLogins that fail",
    )
    app_passwords_per_user: int = setting(
        "APP_PASSWORDS_PER_USER", 20, _positive_int,
        "most app passwords (for reader apps) one person may hold; creating one more is "
        "refused (409 `too_many_app_passwords`) until one is revoked",
    )
    password_min_length: int = setting(
        "PASSWORD_MIN_LENGTH", 8, _positive_int,
        "shortest password accepted at sign-up and password change",
    )
    new_subscriber_unread: int = setting(
        "NEW_SUBSCRIBER_UNREAD", 25, _non_negative_int,
        "a new subscriber to a feed that has items starts with this many of its newest "
        "unread; older ones count as read (a feed's first fetch arrives all unread)",
    )
    metrics_token: str | None = setting(
        "METRICS_TOKEN", None, str,
        "lets a scraper read `/metrics` with `Authorization: Bearer <token>`",
        secret=True,
    )
    # -- worker dyno -------------------------------------------------------------
    worker_concurrency: int = setting(
        "WORKER_CONCURRENCY", 2, _positive_int,
        "worker processes per worker dyno",
    )
    worker_threads: int = setting(
        "WORKER_THREADS", 48, _positive_int,
        "RQ workers (threads) per worker process: the fetches it has in flight, mostly "
        "waiting on feed servers; threads share the process's connections",
    )
    worker_nice: int = setting(
        "WORKER_NICE", 10, _nice_increment,
        "how much `worker.py` lowers its CPU priority, so requests come first where web and "
        "worker share a machine (0: not at all)",
    )
    pin_cpus: bool | str = setting(
        "PIN_CPUS", "auto", _bool_or_auto,
        "keep each web and worker process on one core: `auto` where the cores look like the "
        "process's own (no CPU quota or share, every online CPU allowed, little steal time), "
        "`true` always, `false` never (see [operations](docs/operations.md#cpu-placement))",
    )
    # -- connection budget (app/budget.py; docs/operations.md#connection-budget) ------
    redis_max_connections: int = setting(
        "REDIS_MAX_CONNECTIONS", 20, _positive_int,
        "connections the Redis plan allows (Key-Value Store mini: 20); the app's processes "
        "use at most this less `CONNECTION_RESERVE` (see "
        "[operations](docs/operations.md#connection-budget))",
    )
    database_max_connections: int = setting(
        "DATABASE_MAX_CONNECTIONS", 20, _positive_int,
        "connections the Postgres plan allows (essential-0: 20), less `CONNECTION_RESERVE` for "
        "the app",
    )
    connection_reserve: int = setting(
        "CONNECTION_RESERVE", 5, _non_negative_int,
        "Redis and Postgres connections left free for `heroku run`, `heroku pg:psql` and the "
        "release phase",
    )
    web_dynos: int = setting(
        "WEB_DYNOS", 1, _positive_int,
        "web dynos you run (app.json's formation: 1); the budget counts them",
    )
    worker_dynos: int = setting(
        "WORKER_DYNOS", 1, _positive_int,
        "worker dynos you run (app.json's formation: 1); the budget counts them",
    )
    redis_pool_size: int = setting(
        "REDIS_POOL_SIZE", 0, _non_negative_int,
        "Redis connections per process pool, shared by its threads (0: the largest that fits "
        "the budget)",
    )
    db_pool_size: int = setting(
        "DB_POOL_SIZE", 0, _non_negative_int,
        "Postgres connections per process, a hard cap (0: the largest that fits the budget; see "
        "[operations](docs/operations.md#connection-budget))",
    )
    fetch_crash_retries: int = setting(
        "FETCH_CRASH_RETRIES", 2, _non_negative_int,
        "times a fetch whose worker process died under it runs again before it fails with "
        "`worker_crashed`",
    )
    worker_max_rss_mb: int = setting(
        "WORKER_MAX_RSS_MB", 400, _non_negative_int,
        "resident memory at which a worker process stops taking jobs, finishes its own and is "
        "replaced (0: never)",
    )
    queue_prefix: str = setting(
        "QUEUE_PREFIX", "feedqueue", str,
        "prefix of the RQ queue names and of the app's Redis keys",
    )
    job_timeout: int = setting(
        "JOB_TIMEOUT", 60, _positive_int,
        "seconds an RQ job may run before RQ stops it (more than `FETCH_DEADLINE`)",
    )
    shutdown_grace: float = setting(
        "SHUTDOWN_GRACE_SECONDS", 10.0, _positive_float,
        "how long a running job may go on after SIGTERM",
    )
    schedule_every: float = setting(
        "SCHEDULE_EVERY_SECONDS", 5.0, _positive_float,
        "how often the scheduler looks for due feeds",
    )
    reconcile_every: float = setting(
        "RECONCILE_EVERY_SECONDS", 15.0, _positive_float,
        "how often the reconciler looks for fetches whose job was lost",
    )
    reconcile_queued_grace: float = setting(
        "RECONCILE_QUEUED_GRACE_SECONDS", 60.0, _positive_float,
        "how long a queued fetch waits before the reconciler checks that RQ holds its job",
    )
    # -- fetching ----------------------------------------------------------------
    fetch_connect_timeout: float = setting(
        "FETCH_CONNECT_TIMEOUT", 5.0, _positive_float,
        "seconds to open a TCP (and TLS) connection, per hop (all `FETCH_*`: "
        "[fetching](docs/fetching.md))",
    )
    fetch_read_timeout: float = setting(
        "FETCH_READ_TIMEOUT", 15.0, _positive_float,
        "longest wait in seconds for any single read from the server",
    )
    fetch_deadline: float = setting(
        "FETCH_DEADLINE", 30.0, _positive_float,
        "seconds for the whole fetch: DNS, every redirect, the body, a discovered feed, the wait "
        "for a parser process and the parse (less than `JOB_TIMEOUT`)",
    )
    fetch_max_bytes: int = setting(
        "FETCH_MAX_BYTES", 10 * 1024 * 1024, _positive_int,
        "body size cap in bytes, counted after decompression",
        shown_default="`10485760` (10 MiB)",
    )
    fetch_max_redirects: int = setting(
        "FETCH_MAX_REDIRECTS", 5, int,
        "redirects followed per download",
    )
    fetch_max_items: int = setting(
        "FETCH_MAX_ITEMS", 500, _positive_int,
        "items kept per feed document (newest first)",
    )
    fetch_user_agent: str = setting(
        "FETCH_USER_AGENT", "feedqueue/1.0 (+https://github.com/feedqueue/feedqueue)", str,
        "the User-Agent of every fetch",
    )
    fetch_allow_private_networks: bool = setting(
        "FETCH_ALLOW_PRIVATE_NETWORKS", False, _bool,
        "`true` turns the private-address check off (development and tests)",
    )
    fetch_allowed_hosts: frozenset[str] = setting(
        "FETCH_ALLOWED_HOSTS", frozenset(), _host_list,
        "comma-separated host names exempt from the address check (an intranet feed server)",
    )
    fetch_retries: int = setting(
        "FETCH_RETRIES", 3, int,
        "retries of transient failures (5 s, 30 s, 120 s; Retry-After honoured)",
    )
    # Feed icons (docs/reader.md#feed-icons): fetched by the worker after a feed's fetch.
    feed_icon_max_bytes: int = setting(
        "FEED_ICON_MAX_BYTES", 64 * 1024, _non_negative_int,
        "largest feed icon downloaded and stored (PNG, GIF, JPEG, ICO or WebP); `0` turns "
        "icon fetching off",
        shown_default="`65536` (64 KiB)",
    )
    feed_icon_refresh_days: int = setting(
        "FEED_ICON_REFRESH_DAYS", 7, _positive_int,
        "days before a feed's icon is looked for again (sooner when the feed names another)",
    )
    # Bounded parsing: caps on a document, on what it stores, and on the parser
    # processes that read it (docs/fetching.md#parsing-limits).
    fetch_max_items_read: int = setting(
        "FETCH_MAX_ITEMS_READ", 2000, _positive_int,
        "items read from a document before the rest is cut (at least `FETCH_MAX_ITEMS`; see "
        "[parsing limits](docs/fetching.md#parsing-limits))",
    )
    fetch_max_elements: int = setting(
        "FETCH_MAX_ELEMENTS", 200_000, _positive_int,
        "elements in a feed document, checked before it is parsed",
    )
    fetch_max_depth: int = setting(
        "FETCH_MAX_DEPTH", 100, _positive_int,
        "nesting depth of a feed document, checked before it is parsed",
    )
    fetch_max_attribute_bytes: int = setting(
        "FETCH_MAX_ATTRIBUTE_BYTES", 64 * 1024, _positive_int,
        "bytes of attributes on one element, checked before it is parsed",
    )
    fetch_max_field_bytes: int = setting(
        "FETCH_MAX_FIELD_BYTES", 512 * 1024, _positive_int,
        "bytes of one field (title, summary, content); larger ones are emptied or cut",
    )
    fetch_max_stored_bytes: int = setting(
        "FETCH_MAX_STORED_BYTES", 16 * 1024 * 1024, _positive_int,
        "bytes of all the items one fetch stores (newest kept)",
    )
    parser_processes: int = setting(
        "PARSER_PROCESSES", 1, _non_negative_int,
        "parser processes per worker process (`0`: parse inside the worker, unbounded)",
    )
    parser_memory_mb: int = setting(
        "PARSER_MEMORY_MB", 256, _positive_int,
        "address-space limit of a parser process, in MB",
    )
    parser_cpu_seconds: float = setting(
        "PARSER_CPU_SECONDS", 10.0, _positive_float,
        "CPU seconds a parser process may spend on one document",
    )
    host_concurrency: int = setting(
        "FETCH_HOST_CONCURRENCY", 2, _positive_int,
        "fetches running at once against one host, over all workers",
    )
    host_per_minute: int = setting(
        "FETCH_HOST_PER_MINUTE", 60, _positive_int,
        "fetches started per minute against one host",
    )
    fetch_allowed_ports: PortRanges = setting(
        "FETCH_ALLOWED_PORTS", DEFAULT_PORTS, _port_ranges,
        "ports a fetch may connect to, every hop (comma-separated ports and ranges)",
        shown_default="`80,443,1024-65535`",
    )
    # -- WebSub push (docs/fetching.md#websub) ----------------------------------------
    public_url: str | None = setting(
        "PUBLIC_URL", None, _public_url,
        "the address people and hubs reach the app at (on Heroku `https://<app>.herokuapp.com` "
        "or your custom domain); set, feeds that name a WebSub hub are pushed; unset, only polled",
    )
    websub_lease_seconds: int = setting(
        "WEBSUB_LEASE_SECONDS", 10 * 24 * 3600, _positive_int,
        "lease asked of a WebSub hub (it may grant another); renewed before it ends",
    )
    websub_poll_seconds: int = setting(
        "WEBSUB_POLL_SECONDS", 6 * 3600, _positive_int,
        "refresh interval of a feed while its hub pushes (the normal schedule when push stops)",
    )
    websub_silent_seconds: int = setting(
        "WEBSUB_SILENT_SECONDS", 7 * 24 * 3600, _positive_int,
        "a hub that delivered nothing for this long no longer counts as pushing: the feed is "
        "polled at its normal rate again",
    )
    websub_every: float = setting(
        "WEBSUB_EVERY_SECONDS", 30.0, _positive_float,
        "how often housekeeping subscribes, renews leases and notices hubs that stopped pushing",
    )
    websub_max_bytes: int = setting(
        "WEBSUB_MAX_BYTES", 2 * 1024 * 1024, _positive_int,
        "largest body a hub may push (bigger: `413`); it is stored, then parsed by a worker "
        "with the `FETCH_*` caps",
        shown_default="`2097152` (2 MiB)",
    )
    websub_deliveries_per_minute: int = setting(
        "WEBSUB_DELIVERIES_PER_MINUTE", 60, _positive_int,
        "pushes accepted per minute for one subscription; beyond it `429` with `Retry-After`",
    )
    # -- capacity: Redis memory and the submission flow (docs/operations.md#capacity) ----
    queue_max_jobs: int = setting(
        "QUEUE_MAX_JOBS", 3000, _positive_int,
        "jobs waiting in one queue beyond which submissions get `503 queue_full` and the "
        "scheduler leaves due refreshes in Postgres; the icons queue holds a quarter of it "
        "(see [operations](docs/operations.md#capacity))",
    )
    submit_global_per_minute: int = setting(
        "SUBMIT_GLOBAL_PER_MINUTE", 60_000, _non_negative_int,
        "submissions accepted per minute from all clients together; beyond it `503 queue_full` "
        "(0: no limit)",
    )
    admin_auth_rate_limit: str = setting(
        "ADMIN_AUTH_RATE_LIMIT", "10 per minute", str,
        "per client, on failed admin logins; beyond it `429 rate_limited`",
    )
    # -- retention (docs/operations.md#retention) -------------------------------------
    retention_fetch_days: int = setting(
        "RETENTION_FETCH_DAYS", 2, _positive_int,
        "days a finished fetch row is kept (at least 1: the status page charts the last day)",
    )
    retention_items_per_feed: int = setting(
        "RETENTION_ITEMS_PER_FEED", 500, _positive_int,
        "newest items of each feed always kept (at least `FETCH_MAX_ITEMS`)",
    )
    retention_item_days: int = setting(
        "RETENTION_ITEM_DAYS", 90, _positive_int,
        "days after which an item beyond a feed's newest `RETENTION_ITEMS_PER_FEED` is deleted",
    )
    retention_unfollowed_days: int = setting(
        "RETENTION_UNFOLLOWED_DAYS", 7, _positive_int,
        "days a feed nobody follows is kept (since it was added or last fetched), then deleted",
    )
    retention_batch_size: int = setting(
        "RETENTION_BATCH_SIZE", 500, _positive_int,
        "rows one retention transaction deletes",
    )
    retention_every: float = setting(
        "RETENTION_EVERY_SECONDS", 300.0, _non_negative_float,
        "how often the formation prunes old rows, one dyno a pass "
        "(0: never; `python -m app.manage prune-now`)",
    )
    # -- refresh schedule ----------------------------------------------------------
    refresh_default: int = setting(
        "REFRESH_DEFAULT_SECONDS", 30 * 60, _positive_int,
        "a feed's refresh interval until its hints and posting rate say otherwise",
    )
    refresh_min: int = setting(
        "REFRESH_MIN_SECONDS", 5 * 60, _positive_int,
        "shortest refresh interval",
    )
    refresh_max: int = setting(
        "REFRESH_MAX_SECONDS", 24 * 60 * 60, _positive_int,
        "longest refresh interval",
    )
    refresh_batch_size: int = setting(
        "REFRESH_BATCH_SIZE", 20, _positive_int,
        "scheduled refreshes carried by one RQ job",
    )
    feed_max_errors: int = setting(
        "FEED_MAX_ERRORS", 10, _positive_int,
        "consecutive failures before a feed is paused",
    )
    # -- observability -------------------------------------------------------------
    dyno: str | None = setting(
        "DYNO", None, str,
        "the dyno's name (`web.1`, set by Heroku); elsewhere `<host>.web` or `<host>.worker`",
    )
    heroku_app_id: str | None = setting(
        "HEROKU_APP_ID", None, str,
        "set by Heroku's dyno metadata; names the dyno in log lines",
    )
    heroku_dyno_id: str | None = setting(
        "HEROKU_DYNO_ID", None, str,
        "set by Heroku's dyno metadata; names the dyno in log lines",
    )
    prometheus_multiproc_dir: str | None = setting(
        "PROMETHEUS_MULTIPROC_DIR", None, str,
        "folder of the processes' metrics files; unset: a fresh one per dyno (see "
        "[monitoring](docs/monitoring.md))",
    )
    metrics_publish_every: float = setting(
        "METRICS_PUBLISH_SECONDS", 10.0, _positive_float,
        "how often a worker dyno publishes its metrics to Redis for the web's `/metrics`",
    )
    runtime_metrics_interval: float = setting(
        "RUNTIME_METRICS_INTERVAL", 20.0, _non_negative_float,
        "seconds between two runtime-metrics log lines (0: none)",
    )
    dyno_memory_quota_mb: float | None = setting(
        "DYNO_MEMORY_QUOTA_MB", None, _positive_float,
        "the dyno's memory quota; else the cgroup limit; else 512",
    )
    graphite_url: str | None = setting(
        "GRAPHITE_URL", None, _graphite_url,
        "carbon plaintext listener, `tcp://host:2003`",
    )
    hostedgraphite_apikey: str | None = setting(
        "HOSTEDGRAPHITE_APIKEY", None, str,
        "set by the Hosted Graphite add-on: prefixes every Graphite path",
        secret=True,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from ``environ`` (default: ``os.environ``); ``overrides`` win."""
        values = {f.name: read_setting(f.name, environ) for f in fields(cls)}
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse to run with settings that would fail later or be unsafe."""
        missing = [var.env for f, var in declared() if var.required and not getattr(self, f.name)]
        if missing:
            raise ConfigError(f"{', '.join(missing)} must be set")
        if self.env == "production" and not self.secret_key:
            raise ConfigError("SECRET_KEY must be set outside development")
        if self.fetch_max_items_read < self.fetch_max_items:
            raise ConfigError("need FETCH_MAX_ITEMS <= FETCH_MAX_ITEMS_READ")
        if self.retention_items_per_feed < self.fetch_max_items:
            # Else items still in a feed's document would be deleted and stored again.
            raise ConfigError("need FETCH_MAX_ITEMS <= RETENTION_ITEMS_PER_FEED")
        if self.fetch_deadline >= self.job_timeout:
            # RQ would stop the job while its fetch is still within its deadline: the
            # fetch would count as a crash and go back to the queue, again and again.
            raise ConfigError("need FETCH_DEADLINE < JOB_TIMEOUT")
        if not self.refresh_min <= self.refresh_default <= self.refresh_max:
            raise ConfigError(
                "need REFRESH_MIN_SECONDS <= REFRESH_DEFAULT_SECONDS <= REFRESH_MAX_SECONDS"
            )

    @property
    def effective_secret_key(self) -> str:
        """The secret key; development and tests fall back to a fixed, public one."""
        return self.secret_key or _DEV_SECRET

    @property
    def rate_limit_prefix(self) -> str:
        """The prefix of the rate limiter's Redis keys (Flask-Limiter's RATELIMIT_KEY_PREFIX)."""
        return f"{self.queue_prefix}-ratelimit"

    @property
    def admin_enabled(self) -> bool:
        """Admin pages exist only when both credentials are configured."""
        return bool(self.admin_user and self.admin_password)

    def dyno_name(self, process_type: str) -> str:
        """Heroku's ``DYNO`` (``web.1``), else ``<host>.<process_type>``.

        Two dynos of one host must not share a name: the web's ``/metrics`` takes
        a published snapshot under its own name for its own (app.observability.dynos).
        """
        return self.dyno or f"{socket.gethostname()}.{process_type}"

    def as_dict(self) -> dict[str, object]:
        """Settings without secrets, for logs and the dashboard."""
        return {f.name: getattr(self, f.name) for f, var in declared() if not var.secret}


def declared() -> list[tuple[Field[object], Var]]:
    """Every setting: its field and how it is read, in declaration order."""
    return [(f, f.metadata["var"]) for f in fields(Settings)]


def default_of(f: Field[object]) -> object:
    """A setting's default value."""
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> object:
    """One setting (a Settings field name), read and parsed as Settings.from_env does.

    For gunicorn.conf.py, whose hooks run in gunicorn's master, before any app.
    """
    environ = os.environ if environ is None else environ
    f = Settings.__dataclass_fields__[name]
    var: Var = f.metadata["var"]
    raw = environ.get(var.env)
    if raw is None or raw == "":
        return default_of(f)
    try:
        return var.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{var.env}: {exc}") from None


# Shared by every process of a development run so sessions survive across
# gunicorn workers; check() refuses it in production.
_DEV_SECRET = "development-only-secret-not-for-production"

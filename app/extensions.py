"""The web app's extensions, created here unbound and bound to an app by create_app().

- ``csrf`` and ``limiter``: Flask-WTF's CSRF protection and Flask-Limiter (its
  key is the client's address, IPv6 per /64);
- ``feedqueue``: the app's own resources, built from its settings: the
  database, the queues, and the readiness probes' dedicated connections. It
  opens one database session per request and closes it at teardown.

Blueprints reach these through app.web.helpers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.budget import WEB_PROBE
from app.config import Settings
from app.queue.connection import bounded_redis
from app.queue.queues import Queues
from app.storage.db import Database, ping, probe_engine

#: Seconds each readiness probe may take, per dependency.
PROBE_TIMEOUT = 1


def client_key() -> str:
    """The rate-limit key of the client: its address (after ProxyFix), IPv6 per /64."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


csrf = CSRFProtect()
limiter = Limiter(key_func=client_key, default_limits=[], headers_enabled=True)


class Probes:
    """Dedicated, fast-failing connections for readiness checks and queue scrapes."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url and settings.redis_url
        self.engine: Engine = probe_engine(settings.database_url, PROBE_TIMEOUT)
        # Its own connection (counted in the budget): a probe must fail fast,
        # never wait behind requests for a pooled one.
        self.redis: Redis = bounded_redis(
            settings.redis_url,
            WEB_PROBE,
            wait=PROBE_TIMEOUT,
            socket_connect_timeout=PROBE_TIMEOUT,
            socket_timeout=PROBE_TIMEOUT,
            health_check_interval=0,
            retry=Retry(NoBackoff(), 0),
        )
        self.queues = Queues(self.redis, settings)

    def postgres(self) -> None:
        ping(self.engine)

    def redis_ping(self) -> None:
        self.redis.ping()


@dataclass
class Resources:
    """One app's settings, database, queues and probes."""

    settings: Settings
    db: Database
    queues: Queues
    probes: Probes

    def close(self) -> None:
        """Drop the pooled connections (tests build many apps in one process)."""
        self.db.dispose()
        self.probes.engine.dispose()
        self.queues.redis.close()
        self.probes.redis.close()


class Feedqueue:
    """The extension that binds :class:`Resources` to an app."""

    key = "feedqueue"

    def init_app(
        self, app: Flask, settings: Settings, *, redis: Redis, db_pool: int
    ) -> None:
        """Build the app's resources from ``settings`` and close each request's session.

        ``redis`` is the process's bounded client (its pool is shared with the rate
        limiter); ``db_pool`` the Postgres pool size the connection budget gives it.
        """
        assert settings.database_url and settings.redis_url
        app.extensions[self.key] = Resources(
            settings=settings,
            # No pre-ping: a web request is cheap to fail once (503) after a Postgres
            # restart, and the ping would cost a round trip on every request.
            db=Database(settings.database_url, pool_size=db_pool, pre_ping=False),
            queues=Queues(redis, settings),
            probes=Probes(settings),
        )

        @app.teardown_appcontext
        def _close_session(_exc: BaseException | None) -> None:
            session = g.pop("db_session", None)
            if session is not None:
                session.close()

    def of(self, app: Flask) -> Resources:
        """The resources bound to ``app``."""
        return app.extensions[self.key]

    @property
    def current(self) -> Resources:
        """The resources of the app handling the current request."""
        return self.of(current_app)

    def session(self) -> Session:
        """The request's session, opened on first use and closed at teardown."""
        if "db_session" not in g:
            g.db_session = self.current.db.sessionmaker()
        return g.db_session


feedqueue = Feedqueue()

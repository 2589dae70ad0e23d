"""feedqueue: a Flask web app that queues feed fetches for a separate RQ worker.

``create_app()`` is the application factory that gunicorn, the tests and the
CLI use. It never fetches a feed: that is the worker's job.

This module imports nothing heavy at the top: Flask, SQLAlchemy, RQ and redis
are imported inside the factory, so ``import app.pipeline`` (or a worker's
``import app.jobs.fetch``) does not pay for the web.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.config import Settings, rate_limit_storage_uri

if TYPE_CHECKING:
    from flask import Flask
    from redis import Redis

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Settings | dict[str, object] | None = None) -> Flask:
    """Build the Flask app.

    ``config`` may be a full Settings object, or a dict of overrides applied on
    top of the environment (handy in tests).
    """
    from flask import Flask

    from app import web
    from app.budget import plan
    from app.extensions import csrf, feedqueue, limiter
    from app.logs import configure_logging
    from app.observability import metrics, request_log
    from app.web import retry_after
    from app.web.ratelimit_storage import storage_uri

    if isinstance(config, Settings):
        config.check()  # a hand-built Settings gets the same start-up checks as the environment's
        settings = config
    else:
        settings = Settings.from_env(**(config or {}))

    budget = plan(settings)
    redis = _web_redis(settings, budget.web_redis_pool)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "app" / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.effective_secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        # CSRF tokens live as long as the session; app.web.security checks them
        # itself (exempting JSON) instead of CSRFProtect's default hook.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,
        # limits' Redis storage whose hit also answers the window's end: the
        # X-RateLimit-* headers cost no round trips of their own (app/web/ratelimit_storage.py).
        RATELIMIT_STORAGE_URI=storage_uri(rate_limit_storage_uri(settings.redis_url)),
        # The limiter shares the process's bounded pool (the connection budget).
        RATELIMIT_STORAGE_OPTIONS={"connection_pool": redis.connection_pool},
        # Fixed windows cost one INCR per request; a moving window keeps a list per client.
        RATELIMIT_STRATEGY="fixed-window",
        # When Redis is down the limiter lets requests through rather than failing them.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_KEY_PREFIX=settings.rate_limit_prefix,
    )
    configure_logging(settings.log_level)
    # First, so request timing and the request id cover every other hook.
    request_log.init_app(app)
    feedqueue.init_app(app, settings, redis=redis, db_pool=budget.web_db_pool)
    csrf.init_app(app)
    # The limiter's Retry-After (its window) only on 429s; the app's own hints elsewhere.
    retry_after.init_app(app, lambda: limiter.init_app(app))
    web.register(app, settings)
    metrics.process_started("web", settings.runtime_metrics_interval)
    return app


def _web_redis(settings: Settings, pool: int) -> Redis:
    """The web process's Redis client: ``pool`` connections shared by every thread."""
    from app.queue.connection import bounded_redis

    assert settings.redis_url
    return bounded_redis(settings.redis_url, pool)

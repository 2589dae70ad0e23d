"""feedqueue: a Flask web app that queues feed fetches for a separate RQ worker.

``create_app()`` is the application factory that gunicorn, the tests and the
CLI use. It never fetches a feed: that is the worker's job.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g

from app.config import Settings
from app.logs import configure_logging
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.storage.db import Database

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Settings | dict[str, object] | None = None) -> Flask:
    """Build the Flask app.

    ``config`` may be a full Settings object, or a dict of overrides applied on
    top of the environment (handy in tests).
    """
    if isinstance(config, Settings):
        config.check()  # a hand-built Settings gets the same start-up checks as the environment's
        settings = config
    else:
        settings = Settings.from_env(**(config or {}))

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
    )
    app.extensions["feedqueue.settings"] = settings
    configure_logging(settings.log_level)
    _register_resources(app, settings)
    _register_blueprints(app, settings)
    return app


def _register_resources(app: Flask, settings: Settings) -> None:
    assert settings.database_url and settings.redis_url
    # No pre-ping: a web request is cheap to fail once (503) after a Postgres
    # restart, and the ping would cost a round trip on every request.
    db = Database(settings.database_url, pool_size=settings.db_pool_size, pre_ping=False)
    queues = Queues(redis_from_url(settings.redis_url), settings)
    app.extensions["feedqueue.db"] = db
    app.extensions["feedqueue.queues"] = queues

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def _register_blueprints(app: Flask, settings: Settings) -> None:
    from app.web import api, docs, errors, health, pages, security, submit

    # First, so request timing and the request id cover every other hook.
    health.init_app(app, settings)
    errors.register(app)
    security.init_app(app, settings)
    app.register_blueprint(pages.bp)
    app.register_blueprint(submit.bp)
    _register_page_blueprints(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(docs.bp)


def _register_page_blueprints(app: Flask) -> None:
    """Feed actions, OPML import/export and the status dashboard."""
    from app.web import dashboard, feed_actions, opml

    app.register_blueprint(feed_actions.bp)
    app.register_blueprint(opml.bp)
    app.register_blueprint(dashboard.bp)

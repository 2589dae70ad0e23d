"""Alembic environment: migrates the database named by DATABASE_URL."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from app.config import normalize_database_url, read_setting
from app.storage.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    # Blank counts as unset: the release phase must say the add-on is missing.
    url = config.attributes.get("database_url") or str(read_setting("database_url") or "").strip()
    if not url:
        # The release phase of a first push can run before Heroku Postgres is attached:
        # say so in one line (SystemExit prints no traceback) and stop the release.
        raise SystemExit(
            "DATABASE_URL is not set, so there is no database to migrate. On Heroku, attach "
            "Postgres (heroku addons:create heroku-postgresql:essential-0), wait for it "
            "(heroku addons:wait), then deploy again; see docs/deploy.md."
        )
    return normalize_database_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Two releases migrating at once (or a release racing a test)
            # must not interleave: hold an advisory lock for the run.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

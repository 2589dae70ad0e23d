"""Engine and session set-up: one engine per process, one session per request or job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """Owns a process's engine and hands out sessions.

    Engines hold sockets, so a forked child must call :meth:`dispose` (or
    build its own Database) before first use: a pooled connection shared by
    two processes corrupts both.
    """

    def __init__(
        self, url: str, *, pool_size: int = 4, pre_ping: bool = True, echo: bool = False
    ) -> None:
        self.url = url
        self.engine: Engine = create_engine(
            url,
            # With pre_ping a connection that died with a Postgres restart is
            # replaced before use, at the price of a round trip per checkout.
            # Without it the first use fails, SQLAlchemy drops the whole pool,
            # and the next use reconnects.
            pool_pre_ping=pre_ping,
            # A hard cap per process: Heroku Postgres plans limit connections
            # (20 on essential-0), shared by every process of every dyno.
            pool_size=pool_size,
            max_overflow=0,
            pool_recycle=1800,
            pool_timeout=5,
            connect_args={"connect_timeout": 5, "application_name": "feedqueue"},
            echo=echo,
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that rolls back on error and always closes."""
        session = self.sessionmaker()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self, *, after_fork: bool = False) -> None:
        """Drop pooled connections.

        After a fork, pass ``after_fork=True``: the parent still owns the
        sockets, so the child must forget them without closing them.
        """
        self.engine.dispose(close=not after_fork)


@contextmanager
def driver_cursor(session: Session) -> Iterator[Any]:
    """A psycopg2 cursor in the session's transaction, for the hot paths that hand rows
    to the driver directly (arrays of a whole fetch's items, ``execute_batch``)."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


def probe_engine(url: str, timeout: int) -> Engine:
    """An engine for readiness probes: one pooled connection per process, never more.

    A probe reuses it, so probing as fast as anyone likes cannot open connections
    (Postgres plans cap them: 20 on essential-0); probes that arrive together wait
    ``timeout`` seconds for it and then fail as not ready. ``timeout`` seconds also
    to connect and per statement. A connection that broke is replaced at the next probe.
    """
    return create_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=timeout,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": timeout,
            "application_name": "feedqueue-probe",
            "options": f"-c statement_timeout={timeout * 1000}",
        },
    )


def ping(engine: Engine) -> None:
    """``SELECT 1``: raises when Postgres cannot be reached or does not answer in time."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))

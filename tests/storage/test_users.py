"""Accounts' SQL (app/storage/users.py): a token's owner, and how often its use is noted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from app.storage import users
from app.storage.db import Database
from app.storage.models import ApiToken

NOW = datetime.now(UTC)


def _token(db: Database) -> int:
    with db.session() as session:
        user = users.create_user(session, "ann", "not a real hash", is_admin=False)
        users.add_token(session, user.id, "app", "digest")
        session.commit()
        return user.id


def _last_used(db: Database) -> datetime | None:
    with db.session() as session:
        return session.scalar(select(ApiToken.last_used_at))


def _owner(db: Database, token_hash: str, now: datetime) -> int | None:
    """The token's owner, noting its use as an API request does (app.services.accounts)."""
    with db.session() as session:
        found = users.token_owner(session, token_hash)
        if found is None:
            return None
        if users.token_use_stale(found[1], now):
            users.note_token_use(session, token_hash, now)
        session.commit()
        return found[0]


def test_a_token_hash_finds_its_owner_and_an_unknown_one_nobody(db: Database) -> None:
    owner = _token(db)
    assert _owner(db, "digest", NOW) == owner
    assert _owner(db, "other", NOW) is None


def test_a_tokens_use_is_noted_at_most_once_a_minute(db: Database) -> None:
    _token(db)
    _owner(db, "digest", NOW)
    assert _last_used(db) == NOW
    _owner(db, "digest", NOW + timedelta(seconds=30))
    assert _last_used(db) == NOW  # a busy client does not write the row on every request
    later = NOW + users.TOKEN_USE_RESOLUTION + timedelta(seconds=1)
    _owner(db, "digest", later)
    assert _last_used(db) == later


def test_a_tokens_owner_is_found_in_one_statement(db: Database) -> None:
    owner = _token(db)
    statements: list[str] = []

    def note(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    with db.session() as session:
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            found = users.token_owner(session, "digest")
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
    assert found == (owner, None)
    assert len(statements) == 1, statements

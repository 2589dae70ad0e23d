"""The app_passwords table: passwords a person gives their reader apps.

Hashing is not done here (app.services.app_passwords owns it): these functions
store and find what they are given. Callers commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.storage.models import MAX_ID, AppPassword, User


def add_app_password(
    session: Session, user_id: int, name: str, password_hash: str, fever_key_hash: str
) -> AppPassword:
    """Store an app password's digests under ``name`` for the account (flushed)."""
    row = AppPassword(
        user_id=user_id, name=name, password_hash=password_hash, fever_key_hash=fever_key_hash
    )
    session.add(row)
    session.flush()
    return row


def app_passwords_of(session: Session, user_id: int) -> list[AppPassword]:
    """The account's app passwords, newest first."""
    return list(
        session.scalars(
            select(AppPassword)
            .where(AppPassword.user_id == user_id)
            .order_by(AppPassword.id.desc())
        )
    )


def count_app_passwords(session: Session, user_id: int) -> int:
    """How many app passwords the account has."""
    return (
        session.scalar(
            select(func.count()).select_from(AppPassword).where(AppPassword.user_id == user_id)
        )
        or 0
    )


def delete_app_password(session: Session, user_id: int, app_password_id: int) -> bool:
    """Revoke one of the account's app passwords; False when it has none of that id."""
    if not 0 < app_password_id <= MAX_ID:
        return False
    result = session.execute(
        delete(AppPassword).where(
            AppPassword.id == app_password_id, AppPassword.user_id == user_id
        )
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def _owner(session: Session, where: object, now: datetime) -> User | None:
    user_id = session.scalar(
        update(AppPassword).where(where).values(last_used_at=now).returning(AppPassword.user_id)
    )
    return session.get(User, user_id) if user_id is not None else None


def user_by_fever_key_hash(session: Session, key_hash: str, now: datetime) -> User | None:
    """The owner of the app password whose Fever key has that digest (noting its use)."""
    return _owner(session, AppPassword.fever_key_hash == key_hash, now)


def user_by_password_hash(session: Session, password_hash: str, now: datetime) -> User | None:
    """The owner of the app password with that digest (noting its use), or None."""
    return _owner(session, AppPassword.password_hash == password_hash, now)


def get_app_password(session: Session, app_password_id: int) -> AppPassword | None:
    """The app password of that id (anyone's: the caller checks what it is given), or None."""
    if not 0 < app_password_id <= MAX_ID:
        return None
    return session.get(AppPassword, app_password_id)


def note_use(session: Session, app_password_id: int, now: datetime, every_seconds: int) -> None:
    """Record that the app password was used now, unless that was done in the last
    ``every_seconds``: a busy client does not write its row on every request."""
    session.execute(
        update(AppPassword)
        .where(
            AppPassword.id == app_password_id,
            (AppPassword.last_used_at.is_(None))
            | (AppPassword.last_used_at < now - timedelta(seconds=every_seconds)),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def app_password_by_hash(session: Session, password_hash: str) -> AppPassword | None:
    """The app password with that digest, or None."""
    return session.scalar(select(AppPassword).where(AppPassword.password_hash == password_hash))

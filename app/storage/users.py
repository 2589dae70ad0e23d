"""The users and api_tokens tables: accounts and their API tokens.

Hashing is not done here (app.services.accounts owns it): these functions store
and find what they are given. Callers commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.storage.models import MAX_ID, ApiToken, User

#: User ids are BIGINT: a larger number names nobody.


def create_user(session: Session, username: str, password_hash: str, *, is_admin: bool) -> User:
    """Add an account (flushed, so it has its id). IntegrityError when the name is taken."""
    user = User(username=username, password_hash=password_hash, is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User | None:
    """The account of that id, or None."""
    return session.get(User, user_id) if 0 < user_id <= MAX_ID else None


def user_by_name(session: Session, username: str) -> User | None:
    """The account of that name, whatever its case, or None."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def count_users(session: Session) -> int:
    """How many accounts there are."""
    return session.scalar(select(func.count()).select_from(User)) or 0


def set_password_hash(session: Session, user_id: int, password_hash: str) -> None:
    """Store a new password hash for the account."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash)
        .execution_options(synchronize_session="fetch")
    )


def set_admin(session: Session, user_id: int) -> None:
    """Make the account an admin."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(is_admin=True)
        .execution_options(synchronize_session="fetch")
    )


def add_token(session: Session, user_id: int, name: str, token_hash: str) -> ApiToken:
    """Store a token's hash under ``name`` for the account (flushed)."""
    token = ApiToken(user_id=user_id, name=name, token_hash=token_hash)
    session.add(token)
    session.flush()
    return token


#: How precisely a token's last use is kept: a busy client's requests do not all
#: write (and queue on) the token's row.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


#: The token's owner and its last noted use: columns only, no entity (each API request runs it).
_TOKEN_OWNER = select(ApiToken.user_id, ApiToken.last_used_at).where(
    ApiToken.token_hash == bindparam("token_hash")
)


def token_owner(session: Session, token_hash: str) -> tuple[int, datetime | None] | None:
    """The id of the owner of the token with that hash and when its use was last noted,
    or None. One statement on the token's row: a deleted account's tokens go with it."""
    row = session.connection().execute(_TOKEN_OWNER, {"token_hash": token_hash}).one_or_none()
    return None if row is None else (row[0], row[1])


def token_use_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """True when a token's last noted use is older than :data:`TOKEN_USE_RESOLUTION`."""
    return last_used_at is None or last_used_at < now - TOKEN_USE_RESOLUTION


def note_token_use(session: Session, token_hash: str, now: datetime) -> None:
    """Note the token's use at ``now``, unless a request noted one within the resolution."""
    stale = now - TOKEN_USE_RESOLUTION
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.token_hash == token_hash,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < stale),
        )
        .values(last_used_at=now)
    )


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    """The account's tokens, newest first."""
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
    )


def delete_token(session: Session, user_id: int, token_id: int) -> bool:
    """Revoke one of the account's tokens; False when it has none of that id."""
    if not 0 < token_id <= MAX_ID:
        return False
    result = session.execute(
        delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]

"""App passwords: what a person types into a reader app instead of their login password.

An app password is 25 random characters from a 32-letter alphabet (125 bits),
shown once. The reader protocols accept it and never the login password, so a
leaked app password is revoked on its own and never opens the web account.

Stored are SHA-256 digests only: of the password (Google Reader's ClientLogin
sends it) and of the Fever key, md5("username:app-password") in hex, which a
Fever client sends instead. Both inputs carry the password's 125 bits, so a fast
unsalted digest cannot be reversed by guessing, and it lets one indexed lookup
find the owner (as API tokens are found); an argon2 hash would need the user
name first, which a Fever key does not say.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.config import Settings
from app.services.accounts import AccountError
from app.services.text import storable
from app.storage import app_passwords
from app.storage.models import AppPassword, User

MAX_NAME = 100
#: Letters and digits a person can read back without confusing them (no 0/o, 1/l).
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
GROUPS, GROUP_SIZE = 5, 5


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def fever_key(username: str, password: str) -> str:
    """The Fever ``api_key`` of an account and app password: md5("username:password")."""
    return hashlib.md5(f"{username}:{password}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class NewAppPassword:
    """An app password just created: ``password`` is shown to the person once."""

    row: AppPassword
    password: str


def create(session: Session, settings: Settings, user: User, name: object) -> NewAppPassword:
    """A new app password for the person, named ``name`` (e.g. "Reeder on my phone"). Commits.

    Refused (AccountError) for a bad name, or past APP_PASSWORDS_PER_USER.
    """
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name.strip()) > MAX_NAME
        or not storable(name)
    ):
        raise AccountError(
            "invalid_name", f"Name the app password (1 to {MAX_NAME} characters)."
        )
    if app_passwords.count_app_passwords(session, user.id) >= settings.app_passwords_per_user:
        raise AccountError(
            "too_many_app_passwords",
            f"You have {settings.app_passwords_per_user} app passwords, the most allowed: "
            "revoke one first.",
        )
    password = "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_SIZE)) for _ in range(GROUPS)
    )
    row = app_passwords.add_app_password(
        session,
        user.id,
        name.strip(),
        _digest(password),
        _digest(fever_key(user.username, password)),
    )
    session.commit()
    return NewAppPassword(row, password)


def revoke(session: Session, user: User, app_password_id: int) -> bool:
    """Revoke one of the person's app passwords; False when they have none of that id. Commits."""
    done = app_passwords.delete_app_password(session, user.id, app_password_id)
    session.commit()
    return done


def user_for_fever_key(session: Session, api_key: object) -> User | None:
    """The owner of the app password whose Fever key this is, or None. Commits its last use.

    The key is 32 hex digits, in either case.
    """
    if not isinstance(api_key, str) or len(api_key) != 32:
        return None
    key = api_key.lower()
    if any(ch not in "0123456789abcdef" for ch in key):
        return None
    user = app_passwords.user_by_fever_key_hash(session, _digest(key), datetime.now(UTC))
    session.commit()
    return user


def app_password_for(session: Session, username: object, password: object) -> AppPassword | None:
    """The app password ``password`` of the account ``username`` (never its login password),
    or None. Commits its last use. For protocols that then hand out a token of their own
    tied to the app password (Google Reader's ClientLogin), revoked with it."""
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 200:
        return None
    row = app_passwords.app_password_by_hash(session, _digest(password))
    owner = session.get(User, row.user_id) if row is not None else None
    if row is None or owner is None or owner.username.lower() != username.strip().lower():
        session.rollback()
        return None
    row.last_used_at = datetime.now(UTC)
    session.commit()
    return row


def user_for_app_password(session: Session, username: object, password: object) -> User | None:
    """The account whose name and app password these are (never the login password), or
    None. Commits its last use. For protocols that send both (Google Reader's ClientLogin)."""
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 200:
        return None
    user = app_passwords.user_by_password_hash(session, _digest(password), datetime.now(UTC))
    if user is None or user.username.lower() != username.strip().lower():
        session.rollback()
        return None
    session.commit()
    return user

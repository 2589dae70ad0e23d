"""Accounts: sign-up, sign-in, passwords, the admin at start, API tokens.

Passwords are hashed with argon2id (argon2-cffi's defaults, which follow RFC
9106's recommendation); a hash made with older parameters is replaced at the
next sign-in. An unknown name costs a hash check like a wrong password, so the
time of an answer does not tell which names exist. API tokens are random (256
bits) and stored as their SHA-256: the token itself is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import Settings
from app.services.text import storable
from app.storage import users
from app.storage.models import ApiToken, User
from app.storage.subscriptions import adopt_unfollowed_feeds

_hasher = PasswordHasher()
# Checked when the name is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password anyone has")

MAX_USERNAME = 64
MAX_PASSWORD = 1024
MAX_TOKEN_NAME = 100


class AccountError(ValueError):
    """A refused account change: ``code`` and ``message`` say why, for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``, with its parameters and salt."""
    return _hasher.hash(password)


def _clean_name(raw: object) -> str:
    if not isinstance(raw, str):
        raise AccountError("invalid_username", "Choose a user name.")
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name or len(name) > MAX_USERNAME:
        raise AccountError(
            "invalid_username", f"A user name has 1 to {MAX_USERNAME} characters."
        )
    unusual = (ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name)
    if not storable(name) or any(unusual) or ":" in name:
        raise AccountError(
            "invalid_username", "A user name has no spaces, colons or control characters."
        )
    return name


def _check_password(raw: object, min_length: int) -> str:
    if not isinstance(raw, str) or len(raw) < min_length:
        raise AccountError("weak_password", f"A password has at least {min_length} characters.")
    if len(raw) > MAX_PASSWORD or not storable(raw):
        raise AccountError("invalid_password", f"A password has at most {MAX_PASSWORD} characters.")
    return raw


def sign_up(session: Session, settings: Settings, username: object, password: object) -> User:
    """Create an account; the first one is the admin, and follows the feeds a server that
    ran before accounts existed holds (app.storage.subscriptions.adopt_unfollowed_feeds).
    Commits.

    Refused (AccountError) when sign-up is off (SIGNUP_ENABLED) and an account
    exists, when the name is taken (whatever its case) or the password too short.
    """
    name = _clean_name(username)
    secret = _check_password(password, settings.password_min_length)
    first = users.count_users(session) == 0
    if not first and not settings.signup_enabled:
        raise AccountError("signup_disabled", "Sign-up is closed on this server.")
    try:
        user = users.create_user(session, name, hash_password(secret), is_admin=first)
        if first:
            adopt_unfollowed_feeds(session, user.id)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountError("username_taken", "That user name is taken.") from None
    return user


def authenticate(session: Session, username: object, password: object) -> User | None:
    """The account whose name and password these are, or None. Commits a rehash if due."""
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    if len(password) > MAX_PASSWORD or len(username) > 4 * MAX_USERNAME:
        return None
    if not storable(username) or not storable(password):
        return None
    user = users.user_by_name(session, unicodedata.normalize("NFKC", username).strip())
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        users.set_password_hash(session, user.id, hash_password(password))
        session.commit()
    return user


def change_password(
    session: Session, settings: Settings, user: User, current: object, new: object
) -> None:
    """Replace the person's password after checking the current one. Commits."""
    if authenticate(session, user.username, current) is None:
        raise AccountError("wrong_password", "The current password is not right.")
    secret = _check_password(new, settings.password_min_length)
    users.set_password_hash(session, user.id, hash_password(secret))
    session.commit()


def ensure_admin(session: Session, username: str, password: str, *, min_length: int) -> User:
    """Create the admin account ``username``, or make it admin and set its password. Commits.

    Run at start (the release phase, ``make run``: scripts/admin.py) when
    ADMIN_USER and ADMIN_PASSWORD are set; passwords shorter than ``min_length``
    (PASSWORD_MIN_LENGTH) are refused.
    """
    name = _clean_name(username)
    secret = _check_password(password, min_length)
    user = users.user_by_name(session, name)
    if user is None:
        first = users.count_users(session) == 0
        user = users.create_user(session, name, hash_password(secret), is_admin=True)
        if first:
            adopt_unfollowed_feeds(session, user.id)
    else:
        try:
            _hasher.verify(user.password_hash, secret)
            same = True
        except (VerificationError, InvalidHashError):
            same = False
        if not same:
            users.set_password_hash(session, user.id, hash_password(secret))
        users.set_admin(session, user.id)
    session.commit()
    return user


def session_fingerprint(user: User) -> str:
    """A short digest of the password hash, kept in the session cookie: changing the
    password signs out every other session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is shown to the person once, never stored."""

    token: ApiToken
    secret: str


def create_token(session: Session, user: User, name: object) -> NewToken:
    """A new API token for the person, named ``name``. Commits."""
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name.strip()) > MAX_TOKEN_NAME
        or not storable(name)
    ):
        raise AccountError(
            "invalid_token_name", f"Name the token (1 to {MAX_TOKEN_NAME} characters)."
        )
    secret = "fq_" + secrets.token_urlsafe(32)
    token = users.add_token(session, user.id, name.strip(), _token_hash(secret))
    session.commit()
    return NewToken(token, secret)


def user_id_for_token(session: Session, secret: str) -> int | None:
    """The id of the owner of the API token ``secret``, or None. Their account is not
    loaded: most API requests need no more than the id (app.web.helpers.signed_in_user).

    Its use is noted (and committed) at most once a minute; otherwise nothing is
    written and the request goes on in the same transaction, without a commit's
    round trip.
    """
    if not secret or len(secret) > 200:
        return None
    token_hash = _token_hash(secret)
    found = users.token_owner(session, token_hash)
    if found is None:
        return None
    user_id, last_used_at = found
    now = datetime.now(UTC)
    if users.token_use_stale(last_used_at, now):
        users.note_token_use(session, token_hash, now)
        session.commit()
    return user_id


def revoke_token(session: Session, user: User, token_id: int) -> bool:
    """Revoke one of the person's tokens. Commits."""
    done = users.delete_token(session, user.id, token_id)
    session.commit()
    return done


def no_accounts(session: Session) -> bool:
    """True before the first account exists (the sign-in page then points to sign-up)."""
    return users.count_users(session) == 0

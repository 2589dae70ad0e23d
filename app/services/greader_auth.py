"""Google Reader API sign-in: ClientLogin with an app password, then a token per request.

ClientLogin takes the user name and an app password (never the login password)
and answers an ``Auth`` token, which the app sends as ``Authorization:
GoogleLogin auth=<token>`` from then on. The token is ``<app password id>/<HMAC>``:
an HMAC (SECRET_KEY) of the app password's id, owner and stored digest. Nothing
more is stored, and revoking the app password (its row goes) makes every token
made from it fail at once; so does changing SECRET_KEY (apps then sign in again).

Edits may carry the short ``T`` token that ``/token`` hands out, as Google's API
asked (FreshRSS checks it too): when one is sent it must be this Auth token's,
or the Auth token itself (Miniflux's ``/token`` hands out the Auth token, and
some apps then send only ``T`` on a POST, without the header). Apps that send
no ``T`` are let through: the Authorization header is no cookie, so no other
site can make a browser send it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.config import Settings
from app.services.app_passwords import app_password_for
from app.storage import app_passwords
from app.storage.models import AppPassword, User

#: How often a token's use is written to its app password's ``last_used_at``, at most.
NOTE_USE_EVERY = 60
_TOKEN = re.compile(r"([0-9]{1,19})/([0-9a-f]{64})")


@dataclass(frozen=True)
class Login:
    """Who a valid Auth token belongs to, and the token itself."""

    user: User
    app_password_id: int
    token: str


def _mac(settings: Settings, purpose: str, message: str) -> str:
    key = settings.effective_secret_key.encode("utf-8", "surrogateescape")
    data = f"greader-{purpose}|{message}".encode("utf-8", "surrogateescape")
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _auth_token(settings: Settings, row: AppPassword) -> str:
    mac = _mac(settings, "auth", f"{row.id}|{row.user_id}|{row.password_hash}")
    return f"{row.id}/{mac}"


def client_login(
    session: Session, settings: Settings, username: object, password: object
) -> Login | None:
    """The Auth token of this user name and app password, or None when they do not match."""
    row = app_password_for(session, username, password)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    assert user is not None  # the row's foreign key holds it
    return Login(user, row.id, _auth_token(settings, row))


def login_for_token(session: Session, settings: Settings, token: object) -> Login | None:
    """Who the Auth token belongs to, or None (malformed, forged, or its app password revoked).
    Notes the app password's use, at most once a minute. Commits."""
    if not isinstance(token, str):
        return None
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        return None
    row = app_passwords.get_app_password(session, int(match.group(1)))
    if row is None or not hmac.compare_digest(_auth_token(settings, row), token.strip()):
        session.rollback()
        return None
    user = session.get(User, row.user_id)
    if user is None:
        return None
    app_passwords.note_use(session, row.id, datetime.now(UTC), NOTE_USE_EVERY)
    session.commit()
    return Login(user, row.id, token.strip())


def edit_token(settings: Settings, login: Login) -> str:
    """The ``T`` token of an Auth token (57 characters, as Google's were)."""
    return _mac(settings, "edit", login.token)[:57]


def edit_token_ok(settings: Settings, login: Login, sent: str | None) -> bool:
    """Whether an edit may go ahead: no ``T`` sent, or this login's (or its Auth token)."""
    if sent is None or sent == "":
        return True
    given = sent.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(edit_token(settings, login).encode(), given) or (
        hmac.compare_digest(login.token.encode(), given)
    )

"""Google Reader API tokens: made from an app password, signed, revoked with it."""

from __future__ import annotations

from dataclasses import replace

from app.config import Settings
from app.services import app_passwords, greader_auth
from app.storage import app_passwords as stored
from app.storage.db import Database
from tests.conftest import PASSWORD, add_user


def _password(db: Database, settings: Settings, username: str = "reader") -> str:
    user = add_user(db, username)
    with db.session() as session:
        return app_passwords.create(session, settings, user, "app").password


def test_client_login_takes_an_app_password_and_never_the_login_password(
    db: Database, settings: Settings
) -> None:
    password = _password(db, settings)
    with db.session() as session:
        login = greader_auth.client_login(session, settings, "Reader", password)
        assert login is not None and login.user.username == "reader"
        assert greader_auth.client_login(session, settings, "reader", PASSWORD) is None
        assert greader_auth.client_login(session, settings, "reader", None) is None


def test_a_token_names_its_owner_until_its_app_password_is_revoked(
    db: Database, settings: Settings
) -> None:
    password = _password(db, settings)
    user = add_user(db, "reader")
    with db.session() as session:
        login = greader_auth.client_login(session, settings, "reader", password)
        assert login is not None
        found = greader_auth.login_for_token(session, settings, login.token)
        assert found is not None and found.user.id == user.id
        assert app_passwords.revoke(session, user, login.app_password_id)
        assert greader_auth.login_for_token(session, settings, login.token) is None


def test_a_token_is_not_the_app_password_nor_its_stored_digest(
    db: Database, settings: Settings
) -> None:
    password = _password(db, settings)
    with db.session() as session:
        login = greader_auth.client_login(session, settings, "reader", password)
        assert login is not None
        assert password not in login.token
        row = stored.get_app_password(session, login.app_password_id)
        assert row is not None and row.password_hash not in login.token


def test_a_forged_or_malformed_token_names_nobody(db: Database, settings: Settings) -> None:
    password = _password(db, settings)
    with db.session() as session:
        login = greader_auth.client_login(session, settings, "reader", password)
        assert login is not None
        row_id, mac = login.token.split("/")
        for token in (f"{row_id}/{'0' * 64}", f"{int(row_id) + 1}/{mac}", mac, "", "1/x", None):
            assert greader_auth.login_for_token(session, settings, token) is None, token


def test_another_secret_key_invalidates_every_token(db: Database, settings: Settings) -> None:
    password = _password(db, settings)
    with db.session() as session:
        login = greader_auth.client_login(session, settings, "reader", password)
        assert login is not None
        rotated = replace(settings, secret_key="another secret key of enough length")
        assert greader_auth.login_for_token(session, rotated, login.token) is None


def test_the_edit_token_belongs_to_its_auth_token(db: Database, settings: Settings) -> None:
    first, second = _password(db, settings), _password(db, settings)
    with db.session() as session:
        a = greader_auth.client_login(session, settings, "reader", first)
        b = greader_auth.client_login(session, settings, "reader", second)
        assert a is not None and b is not None
        t = greader_auth.edit_token(settings, a)
        assert len(t) == 57
        assert greader_auth.edit_token_ok(settings, a, t)
        assert greader_auth.edit_token_ok(settings, a, a.token)
        assert greader_auth.edit_token_ok(settings, a, None)
        assert not greader_auth.edit_token_ok(settings, b, t)
        assert not greader_auth.edit_token_ok(settings, a, "é" * 57)

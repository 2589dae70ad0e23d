"""Accounts: argon2 hashes, sign-in, the admin at start, tokens stored as digests."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import select

from app.config import Settings
from app.services import accounts
from app.storage.db import Database
from app.storage.models import ApiToken


def test_passwords_are_stored_as_argon2id_hashes(db: Database, settings: Settings) -> None:
    with db.session() as session:
        user = accounts.sign_up(session, settings, "ann", "a good long password")
        assert user.password_hash.startswith("$argon2id$")
        assert "a good long password" not in user.password_hash


def test_sign_in_checks_the_password_and_ignores_the_names_case(
    db: Database, settings: Settings
) -> None:
    with db.session() as session:
        accounts.sign_up(session, settings, "Ann", "a good long password")
        assert accounts.authenticate(session, "ann", "a good long password") is not None
        assert accounts.authenticate(session, "ann", "a good long passworD") is None
        assert accounts.authenticate(session, "bob", "a good long password") is None
        assert accounts.authenticate(session, "ann\x00", "x") is None


@pytest.mark.parametrize("name", ["", " ", "a b", "a:b", "x" * 65, "tab\there", "\ud800"])
def test_unusable_user_names_are_refused(db: Database, settings: Settings, name: str) -> None:
    with db.session() as session, pytest.raises(accounts.AccountError):
        accounts.sign_up(session, settings, name, "a good long password")


def test_the_password_length_setting_is_the_edge(db: Database, settings: Settings) -> None:
    strict = replace(settings, password_min_length=10)
    with db.session() as session:
        with pytest.raises(accounts.AccountError):
            accounts.sign_up(session, strict, "ann", "x" * 9)
        assert accounts.sign_up(session, strict, "ann", "x" * 10).is_admin


def test_ensure_admin_creates_then_promotes_and_resets(db: Database, settings: Settings) -> None:
    with db.session() as session:
        accounts.sign_up(session, settings, "first", "first's password")
        accounts.sign_up(session, settings, "boss", "old password!")
        boss = accounts.ensure_admin(session, "boss", "new password!", min_length=8)
        assert boss.is_admin
        assert accounts.authenticate(session, "boss", "new password!") is not None
        assert accounts.authenticate(session, "boss", "old password!") is None
        with pytest.raises(accounts.AccountError):
            accounts.ensure_admin(session, "boss", "short", min_length=8)


def test_tokens_are_stored_as_sha256_and_found_by_their_secret(
    db: Database, settings: Settings
) -> None:
    with db.session() as session:
        user = accounts.sign_up(session, settings, "ann", "a good long password")
        new = accounts.create_token(session, user, "cli")
        stored = session.scalar(select(ApiToken.token_hash))
        assert stored == hashlib.sha256(new.secret.encode()).hexdigest()
        assert accounts.user_for_token(session, new.secret).id == user.id
        assert accounts.user_for_token(session, new.secret + "x") is None
        assert accounts.revoke_token(session, user, new.token.id)
        assert accounts.user_for_token(session, new.secret) is None

"""Accounts: argon2 hashes, sign-in, the admin at start, tokens stored as digests."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import select

from app.config import Settings
from app.services import accounts
from app.storage.db import Database
from app.storage.models import ApiToken, Feed, Subscription, User
from tests.storage.rows import add_feed


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
        assert accounts.user_id_for_token(session, new.secret) == user.id
        assert accounts.user_id_for_token(session, new.secret + "x") is None
        assert accounts.revoke_token(session, user, new.token.id)
        assert accounts.user_id_for_token(session, new.secret) is None


def _followers(db: Database) -> dict[str, list[str]]:
    with db.session() as session:
        rows = session.execute(
            select(User.username, Feed.url)
            .join(Subscription, Subscription.user_id == User.id)
            .join(Feed, Feed.id == Subscription.feed_id)
            .order_by(Feed.url)
        )
        followers: dict[str, list[str]] = {}
        for username, url in rows:
            followers.setdefault(username, []).append(url)
        return followers


def test_the_first_account_follows_the_feeds_of_a_server_without_accounts(
    db: Database, settings: Settings
) -> None:
    with db.session() as session:
        add_feed(session, "https://a.example/f")
        add_feed(session, "https://b.example/f")
        session.commit()
        accounts.sign_up(session, settings, "first", "first's password")
        add_feed(session, "https://c.example/f")
        session.commit()
        accounts.sign_up(session, settings, "second", "second's password")
        due = session.scalars(select(Feed.next_fetch_at).order_by(Feed.url)).all()
    assert _followers(db) == {"first": ["https://a.example/f", "https://b.example/f"]}
    assert [at is not None for at in due] == [True, True, False]


def test_an_admin_created_at_start_on_an_empty_server_adopts_its_feeds(
    db: Database, settings: Settings
) -> None:
    with db.session() as session:
        add_feed(session, "https://a.example/f")
        session.commit()
        accounts.ensure_admin(session, "boss", "a good long password", min_length=8)
    assert _followers(db) == {"boss": ["https://a.example/f"]}

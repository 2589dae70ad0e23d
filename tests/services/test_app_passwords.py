"""App passwords: random, shown once, stored as digests, never the login password."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from app.config import Settings
from app.services import app_passwords
from app.services.accounts import AccountError
from app.storage.db import Database
from app.storage.models import AppPassword
from tests.conftest import PASSWORD, add_user


def test_an_app_password_is_random_and_only_its_digests_are_stored(
    db: Database, settings: Settings
) -> None:
    user = add_user(db, "reader")
    with db.session() as session:
        first = app_passwords.create(session, settings, user, " Reeder ")
        second = app_passwords.create(session, settings, user, "ReadKit")
        assert re.fullmatch(r"([a-km-z2-9]{5}-){4}[a-km-z2-9]{5}", first.password)
        assert first.password != second.password and first.row.name == "Reeder"
        row = session.scalar(select(AppPassword).where(AppPassword.id == first.row.id))
        key = app_passwords.fever_key("reader", first.password)
        stored = (row.password_hash, row.fever_key_hash)
        assert first.password not in stored and key not in stored
        assert row.fever_key_hash == hashlib.sha256(key.encode()).hexdigest()


def test_the_fever_key_is_md5_of_user_colon_password() -> None:
    assert app_passwords.fever_key("you", "pass") == hashlib.md5(b"you:pass").hexdigest()


def test_the_app_password_signs_in_where_the_login_password_does_not(
    db: Database, settings: Settings
) -> None:
    user = add_user(db, "Reader")
    with db.session() as session:
        created = app_passwords.create(session, settings, user, "phone")
        found = app_passwords.user_for_app_password(session, "reader", created.password)
        assert found is not None and found.id == user.id
        assert app_passwords.user_for_app_password(session, "reader", PASSWORD) is None
        assert app_passwords.user_for_app_password(session, "bob", created.password) is None
        key = app_passwords.fever_key("Reader", created.password)
        assert app_passwords.user_for_fever_key(session, key).id == user.id
        assert app_passwords.user_for_fever_key(session, key + "0") is None
        assert app_passwords.user_for_fever_key(session, "g" * 32) is None
        assert app_passwords.user_for_fever_key(session, None) is None
        mine = select(AppPassword.last_used_at).where(AppPassword.user_id == user.id)
        assert session.scalar(mine) is not None


@pytest.mark.parametrize("name", [None, "", "  ", "x" * 101, "\ud800", 7])
def test_an_unusable_name_is_refused(db: Database, settings: Settings, name: object) -> None:
    user = add_user(db, "reader")
    with db.session() as session, pytest.raises(AccountError) as err:
        app_passwords.create(session, settings, user, name)
    assert err.value.code == "invalid_name"


def test_a_person_holds_at_most_app_passwords_per_user(
    db: Database, settings: Settings
) -> None:
    limited = replace(settings, app_passwords_per_user=2)
    user = add_user(db, "reader")
    with db.session() as session:
        first = app_passwords.create(session, limited, user, "one")
        app_passwords.create(session, limited, user, "two")
        with pytest.raises(AccountError) as err:
            app_passwords.create(session, limited, user, "three")
        assert err.value.code == "too_many_app_passwords"
        assert app_passwords.revoke(session, user, first.row.id)
        app_passwords.create(session, limited, user, "three")
        # Another person's count is their own.
        other = add_user(db, "other")
        app_passwords.create(session, limited, other, "one")

"""The Google Reader API, with requests as the apps send them (NetNewsWire, Reeder, Read
You, FeedMe; the request shapes follow the API notes kept by FreshRSS and Miniflux):
form-encoded ClientLogin, then ``Authorization: GoogleLogin auth=<token>`` on every
call, repeated ``i=`` / ``a=`` / ``r=`` arguments, and ``T`` on edits.

The app runs with CSRF on, as in production: the API has its own token and needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import insert, select, update

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.services import app_passwords
from app.storage.db import Database
from app.storage.models import AppPassword, Fetch, Item, Subscription
from app.storage.subscriptions import ensure_folder, update_subscription
from tests.conftest import PASSWORD, add_feed_with_items, add_user, signed_in

PREFIXES = ("", "/api/greader.php")
API = "/reader/api/0"
READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"
STARRED = "user/-/state/com.google/starred"
LONG = "tag:google.com,2005:reader/item/"


@pytest.fixture
def make(settings: Settings, db: Database, redis: Redis) -> Iterator[Callable[..., Flask]]:
    """Apps with CSRF on and some settings replaced."""
    apps: list[Flask] = []

    def build(**changes: object) -> Flask:
        app = create_app(replace(settings, **changes))
        apps.append(app)
        return app

    yield build
    for app in apps:
        feedqueue.of(app).close()


@pytest.fixture
def client(make: Callable[..., Flask]) -> FlaskClient:
    return make().test_client()


def app_password(db: Database, settings: Settings, username: str = "reader") -> str:
    """A new app password of ``username`` (created if needed)."""
    user = add_user(db, username)
    with db.session() as session:
        return app_passwords.create(session, settings, user, "NetNewsWire").password


@dataclass
class Reader:
    """An app signed in through ClientLogin under ``prefix``."""

    client: FlaskClient
    token: str
    prefix: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"GoogleLogin auth={self.token}"}

    def get(self, path: str, **query: object):
        return self.client.get(f"{self.prefix}{API}/{path}", query_string=query,
                               headers=self.headers)  # fmt: skip

    def post(self, path: str, data: object = None, **query: object):
        return self.client.post(f"{self.prefix}{API}/{path}", query_string=query, data=data,
                                headers=self.headers)  # fmt: skip


def client_login(client: FlaskClient, username: str, password: str, prefix: str = ""):
    return client.post(
        f"{prefix}/accounts/ClientLogin",
        data={"Email": username, "Passwd": password, "service": "reader",
              "accountType": "HOSTED_OR_GOOGLE", "client": "NetNewsWire"},  # fmt: skip
    )


def sign_in(
    client: FlaskClient, db: Database, settings: Settings, username: str = "reader",
    prefix: str = "",
) -> Reader:  # fmt: skip
    response = client_login(client, username, app_password(db, settings, username), prefix)
    assert response.status_code == 200, response.get_data(as_text=True)
    fields = dict(line.split("=", 1) for line in response.get_data(as_text=True).splitlines())
    return Reader(client, fields["Auth"], prefix)


@pytest.fixture(params=PREFIXES, ids=["root", "greader.php"])
def reader(request: pytest.FixtureRequest, client: FlaskClient, db: Database,
           settings: Settings) -> Reader:  # fmt: skip
    """An app signed in as "reader", at the root paths and under /api/greader.php."""
    return sign_in(client, db, settings, prefix=request.param)


def in_folder(db: Database, feed_id: int, name: str, username: str = "reader") -> int:
    user = add_user(db, username)
    with db.session() as session:
        folder_id = ensure_folder(session, user.id, name)
        update_subscription(session, user.id, feed_id, {"folder_id": folder_id})
        session.commit()
    return folder_id


def refs(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(ref["id"]) for ref in response.get_json()["itemRefs"]]


def long_ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    items = response.get_json()["items"]
    assert all(item["id"].startswith(LONG) and len(item["id"]) == len(LONG) + 16 for item in items)
    return [int(item["id"][len(LONG):], 16) for item in items]  # fmt: skip


# -- ClientLogin and tokens ----------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_client_login_with_an_app_password_answers_sid_lsid_and_auth(
    client: FlaskClient, db: Database, settings: Settings, prefix: str
) -> None:
    response = client_login(client, "reader", app_password(db, settings), prefix)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).split("\n")
    assert [line.split("=", 1)[0] for line in lines] == ["SID", "LSID", "Auth", ""]
    token = lines[2].removeprefix("Auth=")
    me = Reader(client, token, prefix).get("user-info")
    assert me.status_code == 200 and me.get_json()["userName"] == "reader"


def test_client_login_takes_a_get_and_the_user_name_in_any_case(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    password = app_password(db, settings)
    response = client.get("/accounts/ClientLogin", query_string={"Email": "READER",
                                                                 "Passwd": password})  # fmt: skip
    assert response.status_code == 200
    assert "Auth=" in response.get_data(as_text=True)


def test_client_login_answers_json_when_asked(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    response = client.post("/accounts/ClientLogin?output=json",
                           data={"Email": "reader", "Passwd": app_password(db, settings)})  # fmt: skip
    body = response.get_json()
    assert set(body) == {"SID", "LSID", "Auth"} and body["Auth"]


def test_client_login_never_takes_the_login_password(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    app_password(db, settings)
    response = client_login(client, "reader", PASSWORD)
    assert response.status_code == 401
    assert response.get_data(as_text=True) == "Error=BadAuthentication\n"


def test_client_login_refuses_an_app_password_under_another_user_name(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    add_user(db, "bob")
    response = client_login(client, "bob", app_password(db, settings, "reader"))
    assert response.status_code == 401


def test_failed_client_logins_count_against_the_login_rate_limit(
    make: Callable[..., Flask], db: Database, settings: Settings
) -> None:
    client = make(login_rate_limit="2 per minute").test_client()
    password = app_password(db, settings)
    assert client_login(client, "reader", "wrong-1").status_code == 401
    assert client_login(client, "reader", "wrong-2").status_code == 401
    over = client_login(client, "reader", password)
    assert over.status_code == 429 and over.headers["Retry-After"] == "60"


def test_every_call_without_or_with_a_bad_token_is_401(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    app = client.application
    good = sign_in(client, db, settings).token
    forged = good.split("/")[0] + "/" + "0" * 64
    calls = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("greader.", "greader_php.")):
            continue
        if rule.endpoint.endswith(".client_login"):
            continue
        url = rule.rule.replace("<path:stream>", READING_LIST)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for header in ({}, {"Authorization": f"GoogleLogin auth={forged}"},
                           {"Authorization": f"Bearer {good}"}):  # fmt: skip
                response = client.open(url, method=method, headers=header)
                assert response.status_code == 401, (method, url, header)
                assert response.get_json()["error"]["code"] == "unauthorized"
                calls += 1
    assert calls >= 2 * 15 * 3


def test_revoking_the_app_password_makes_its_tokens_fail(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    user = add_user(db, "reader")
    with db.session() as session:
        created = app_passwords.create(session, settings, user, "phone")
    response = client_login(client, "reader", created.password)
    token = response.get_data(as_text=True).split("Auth=")[1].strip()
    reader = Reader(client, token)
    assert reader.get("user-info").status_code == 200
    with db.session() as session:
        assert app_passwords.revoke(session, user, created.row.id)
    assert reader.get("user-info").status_code == 401
    assert reader.get("subscription/list").status_code == 401


def test_a_token_notes_when_its_app_password_was_last_used(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    reader = sign_in(client, db, settings)
    with db.session() as session:
        session.execute(update(AppPassword).values(last_used_at=None))
        session.commit()
    assert reader.get("user-info").status_code == 200
    with db.session() as session:
        used = session.scalar(select(AppPassword.last_used_at))
    assert used is not None


def test_token_gives_a_t_token_that_edits_may_carry(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 2)
    t = reader.get("token")
    assert t.status_code == 200 and t.mimetype == "text/plain"
    edit_token = t.get_data(as_text=True)
    assert len(edit_token) == 57
    ok = reader.post("edit-tag", {"i": str(ids[0]), "a": READ, "T": edit_token})
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "OK"
    assert refs(reader.get("stream/items/ids", s=READ)) == [ids[0]]


def test_a_wrong_t_token_is_refused_with_the_bad_token_header(
    reader: Reader, db: Database
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 1)
    response = reader.post("edit-tag", {"i": str(ids[0]), "a": READ, "T": "x" * 57})
    assert response.status_code == 401
    assert response.headers["X-Reader-Google-Bad-Token"] == "true"
    assert refs(reader.get("stream/items/ids", s=READ)) == []


def test_an_edit_without_t_is_accepted_as_miniflux_does(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 1)
    assert reader.post("edit-tag", {"i": str(ids[0]), "a": STARRED}).status_code == 200
    assert refs(reader.get("stream/items/ids", s=STARRED)) == ids


def test_the_browser_session_is_no_google_reader_login(app: Flask) -> None:
    browser = signed_in(app, "reader")
    assert browser.get(f"{API}/user-info").status_code == 401

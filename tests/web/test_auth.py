"""Sign-up, sign-in, sign-out, passwords, API tokens and HTTP Basic for the API."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import User
from tests.conftest import PASSWORD, add_user

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {**JSON, "Authorization": f"Basic {token}"}


def _signup(client: FlaskClient, name: str, password: str = PASSWORD) -> object:
    return client.post("/signup", data={"username": name, "password": password}, headers=HTML)


def _signin(client: FlaskClient, name: str, password: str = PASSWORD, **extra: str) -> object:
    data = {"username": name, "password": password, **extra}
    return client.post("/signin", data=data, headers=HTML)


@pytest.fixture
def make(settings: Settings, db: Database, redis: Redis) -> Iterator[object]:
    apps: list[Flask] = []

    def build(**changes: object) -> Flask:
        app = create_app(replace(settings, **changes))
        app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        apps.append(app)
        return app

    yield build
    for app in apps:
        feedqueue.of(app).close()


def test_the_first_run_sign_in_page_points_to_sign_up(anon_client: FlaskClient) -> None:
    html = anon_client.get("/signin").get_data(as_text=True)
    assert 'id="first-run"' in html and 'href="/signup"' in html


def test_the_public_sees_only_the_sign_in_page(anon_client: FlaskClient) -> None:
    response = anon_client.get("/", headers=HTML)
    assert response.status_code == 303 and response.headers["Location"] == "/signin?next=/"
    assert anon_client.get("/api/items").status_code == 401


def test_the_first_account_is_the_admin_and_the_next_is_not(
    anon_client: FlaskClient, app: Flask, db: Database
) -> None:
    assert _signup(anon_client, "first").status_code == 303
    assert anon_client.get("/api/me").get_json()["user"]["is_admin"] is True
    second = app.test_client()
    assert _signup(second, "second").status_code == 303
    assert second.get("/api/me").get_json()["user"]["is_admin"] is False


def test_sign_up_refuses_a_taken_name_whatever_its_case(
    anon_client: FlaskClient, db: Database
) -> None:
    add_user(db, "Ann")
    response = _signup(anon_client, "aNN")
    assert response.status_code == 400 and "taken" in response.get_data(as_text=True)


def test_sign_up_refuses_a_password_shorter_than_the_setting(make: object, db: Database) -> None:
    client = make(password_min_length=12).test_client()
    assert _signup(client, "ann", "x" * 11).status_code == 400
    assert _signup(client, "ann", "x" * 12).status_code == 303


def test_sign_up_closed_still_lets_the_first_account_in(make: object, db: Database) -> None:
    client = make(signup_enabled=False).test_client()
    assert _signup(client, "admin").status_code == 303
    other = make(signup_enabled=False).test_client()
    response = _signup(other, "late")
    assert response.status_code == 403 and "closed" in response.get_data(as_text=True)


def test_sign_in_with_the_right_password_goes_where_asked(
    anon_client: FlaskClient, user: User
) -> None:
    response = _signin(anon_client, "reader", next="/opml")
    assert response.status_code == 303 and response.headers["Location"] == "/opml"
    assert anon_client.get("/opml", headers=HTML).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(
    anon_client: FlaskClient, user: User, target: str
) -> None:
    response = _signin(anon_client, "reader", next=target)
    assert response.headers["Location"] == "/"


def test_a_wrong_password_or_unknown_name_is_refused_alike(
    anon_client: FlaskClient, user: User
) -> None:
    wrong = _signin(anon_client, "reader", "nope nope nope")
    unknown = _signin(anon_client, "nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong" in wrong.get_data(as_text=True)
    assert anon_client.get("/api/me").status_code == 401


def test_sign_in_attempts_are_rate_limited(make: object, user: User) -> None:
    client = make(login_rate_limit="3 per minute").test_client()
    codes = [_signin(client, "reader", "wrong password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_failed_basic_sign_ins_are_rate_limited(make: object, user: User) -> None:
    client = make(login_rate_limit="2 per minute").test_client()
    codes = [client.get("/api/me", headers=_basic("reader", "bad")).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_sign_out_ends_the_session(client: FlaskClient) -> None:
    assert client.post("/signout", headers=HTML).status_code == 303
    assert client.get("/api/me").status_code == 401


def test_changing_the_password_signs_out_other_sessions(app: Flask, user: User) -> None:
    here, elsewhere = app.test_client(), app.test_client()
    for c in (here, elsewhere):
        _signin(c, "reader")
    response = here.post(
        "/settings/password",
        data={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=HTML,
    )
    assert response.status_code == 303
    assert here.get("/api/me").status_code == 200
    assert elsewhere.get("/api/me").status_code == 401
    assert _signin(app.test_client(), "reader", "a brand new password").status_code == 303


def test_changing_the_password_needs_the_current_one(client: FlaskClient) -> None:
    response = client.post(
        "/settings/password",
        data={"current_password": "not it at all", "new_password": "a brand new password"},
        headers=HTML,
    )
    assert response.status_code == 400 and "not right" in response.get_data(as_text=True)


def test_an_api_token_is_shown_once_works_as_bearer_and_stops_when_revoked(
    client: FlaskClient, app: Flask
) -> None:
    page = client.post("/settings/tokens", data={"name": "phone"}, headers=HTML)
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True))[1]
    api = app.test_client()
    bearer = {**JSON, "Authorization": f"Bearer {token}"}
    assert api.get("/api/me", headers=bearer).get_json()["user"]["username"] == "reader"
    assert token not in client.get("/settings").get_data(as_text=True)
    settings_page = client.get("/settings").get_data(as_text=True)
    token_id = re.search(r"/settings/tokens/(\d+)/delete", settings_page)[1]
    assert client.post(f"/settings/tokens/{token_id}/delete", headers=HTML).status_code == 303
    response = api.get("/api/me", headers=bearer)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"


def test_http_basic_with_the_persons_password_works_for_the_api(
    anon_client: FlaskClient, user: User
) -> None:
    response = anon_client.get("/api/me", headers=_basic("reader", PASSWORD))
    assert response.status_code == 200
    assert anon_client.get("/api/me", headers=_basic("reader", "bad")).status_code == 401


def test_a_401_never_asks_the_browser_for_basic_credentials(anon_client: FlaskClient) -> None:
    response = anon_client.get("/api/items")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bearer_request_needs_no_csrf_token_but_a_cookie_form_post_does(
    settings: Settings, db: Database, redis: Redis, user: User
) -> None:
    app = create_app(settings)  # CSRF on
    try:
        from app.services.accounts import create_token

        with db.session() as session:
            token = create_token(session, user, "cli").secret
        client = app.test_client()
        bearer = {**JSON, "Authorization": f"Bearer {token}"}
        # A form-encoded body: past the CSRF check, refused for not being JSON.
        response = client.post("/api/items/read", data={"ids": "1"}, headers=bearer)
        assert response.get_json()["error"]["code"] == "invalid_json"
        refused = _signin(client, "reader")  # the sign-in form itself needs its token
        assert refused.status_code == 400 and client.get("/api/me").status_code == 401
    finally:
        feedqueue.of(app).close()


def test_a_page_asked_for_with_an_api_token_is_its_owners(
    app: Flask, db: Database, user: User
) -> None:
    from app.services.accounts import create_token

    with db.session() as session:
        token = create_token(session, user, "cli").secret
    page = app.test_client().get(
        "/feeds", headers={**HTML, "Authorization": f"Bearer {token}"}
    )
    # The request knows only the token's owner id; the page reads the account for its name.
    assert page.status_code == 200 and "(reader)" in page.get_data(as_text=True)

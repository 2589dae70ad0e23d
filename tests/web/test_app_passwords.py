"""App passwords through the JSON API and the settings page."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.services.app_passwords import fever_key
from app.storage.db import Database
from tests.conftest import signed_in

JSON = {"Accept": "application/json"}


def _fever_auth(client: FlaskClient, username: str, password: str) -> int:
    body = client.post("/fever/?api", data={"api_key": fever_key(username, password)})
    return body.get_json()["auth"]


def test_create_shows_the_password_once_list_never_shows_it_delete_revokes(
    client: FlaskClient,
) -> None:
    created = client.post("/api/app-passwords", json={"name": "Reeder"})
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"id", "name", "password", "username", "created_at", "last_used_at"}
    assert body["name"] == "Reeder" and body["username"] == "reader"
    assert _fever_auth(client, "reader", body["password"]) == 1
    listed = client.get("/api/app-passwords").get_json()["app_passwords"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert body["password"] not in client.get("/api/app-passwords").get_data(as_text=True)
    assert listed[0]["last_used_at"] is not None
    assert client.delete(f"/api/app-passwords/{body['id']}").status_code == 204
    assert _fever_auth(client, "reader", body["password"]) == 0
    gone = client.delete(f"/api/app-passwords/{body['id']}")
    assert gone.status_code == 404
    assert gone.get_json()["error"]["code"] == "app_password_not_found"


def test_a_post_without_a_body_gets_a_default_name(client: FlaskClient) -> None:
    created = client.post("/api/app-passwords")
    assert created.status_code == 201 and created.get_json()["name"] == "App password"


def test_bad_bodies_are_400(client: FlaskClient) -> None:
    for body in ([], {"name": ""}, {"name": "x" * 101}, {"name": 3}):
        response = client.post("/api/app-passwords", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] in ("invalid_json", "invalid_name")


def test_past_app_passwords_per_user_creating_is_409(
    settings: Settings, db: Database, redis: object
) -> None:
    app = create_app(replace(settings, app_passwords_per_user=1))
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    try:
        client = signed_in(app)
        assert client.post("/api/app-passwords", json={"name": "a"}).status_code == 201
        over = client.post("/api/app-passwords", json={"name": "b"})
        assert over.status_code == 409
        assert over.get_json()["error"]["code"] == "too_many_app_passwords"
    finally:
        feedqueue.of(app).close()


def test_the_settings_page_creates_shows_once_lists_and_revokes(
    client: FlaskClient,
) -> None:
    created = client.post("/settings/app-passwords", data={"name": "Fiery Feeds"})
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    assert "Fiery Feeds" in page and 'id="new-app-password"' in page
    password = page.split('id="new-app-password">')[1].split("<")[0]
    assert _fever_auth(client, "reader", password) == 1
    again = client.get("/settings").get_data(as_text=True)
    assert "Fiery Feeds" in again and password not in again
    assert "/api/fever.php" in again
    listed = client.get("/api/app-passwords").get_json()["app_passwords"]
    revoke = client.post(f"/settings/app-passwords/{listed[0]['id']}/delete")
    assert revoke.status_code == 303
    assert _fever_auth(client, "reader", password) == 0


def test_the_settings_form_refuses_a_missing_name(client: FlaskClient) -> None:
    response = client.post("/settings/app-passwords", data={"name": " "})
    assert response.status_code == 400
    assert "Name the app password" in response.get_data(as_text=True)


def test_someone_elses_app_password_cannot_be_revoked(app: Flask, client: FlaskClient) -> None:
    mine = client.post("/api/app-passwords", json={"name": "mine"}).get_json()
    bob = signed_in(app, "bob")
    assert bob.delete(f"/api/app-passwords/{mine['id']}").status_code == 404
    assert bob.get("/api/app-passwords").get_json()["app_passwords"] == []
    assert _fever_auth(client, "reader", mine["password"]) == 1



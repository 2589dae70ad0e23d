"""Admin credentials for scrapers (/metrics): HTTP Basic with constant-time comparison; none
configured, no access. (The admin account's pages: tests/web/test_dashboard.py.)"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

import pytest
from flask import Flask

from app.web import helpers
from app.web.helpers import basic_admin_required, public

USER, PASSWORD = "admin", "correct horse battery staple"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def _app_with_probe(make_app: Callable[..., Flask], **changes: object) -> Flask:
    app = make_app(**changes)

    @public
    @basic_admin_required
    def probe() -> str:
        return "admin ok"

    app.add_url_rule("/_admin_probe", "admin_probe", probe)
    return app


@pytest.fixture
def admin_app(make_app: Callable[..., Flask]) -> Flask:
    return _app_with_probe(make_app, admin_user=USER, admin_password=PASSWORD)


def test_admin_views_do_not_exist_when_no_credentials_are_configured(
    make_app: Callable[..., Flask],
) -> None:
    client = _app_with_probe(make_app, admin_user=None, admin_password=None).test_client()
    assert client.get("/_admin_probe", headers=_basic("", "")).status_code == 404
    assert client.get("/metrics", headers={"Accept": "application/json"}).status_code == 404


def test_a_user_without_a_password_does_not_enable_admin(make_app: Callable[..., Flask]) -> None:
    client = _app_with_probe(make_app, admin_user=USER, admin_password=None).test_client()
    assert client.get("/_admin_probe", headers=_basic(USER, "")).status_code == 404


def test_missing_credentials_get_401_with_a_basic_challenge(admin_app: Flask) -> None:
    response = admin_app.test_client().get("/_admin_probe", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("user", "password"),
    [
        (USER, "wrong"),
        ("root", PASSWORD),
        (USER, PASSWORD + "x"),
        (USER, PASSWORD[:-1]),
        (USER.upper(), PASSWORD),
        ("", ""),
        ("ädmin", "pässwörd"),  # non-ASCII must not crash the comparison
    ],
)
def test_wrong_credentials_get_401_with_a_basic_challenge(
    admin_app: Flask, user: str, password: str
) -> None:
    response = admin_app.test_client().get("/_admin_probe", headers=_basic(user, password))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_a_bearer_token_is_not_admin_credentials(admin_app: Flask) -> None:
    response = admin_app.test_client().get(
        "/_admin_probe", headers={"Authorization": f"Bearer {PASSWORD}"}
    )
    assert response.status_code == 401


def test_right_credentials_open_the_admin_view(admin_app: Flask) -> None:
    response = admin_app.test_client().get("/_admin_probe", headers=_basic(USER, PASSWORD))
    assert response.status_code == 200
    assert response.data == b"admin ok"


def test_right_credentials_open_the_real_metrics_view(make_app: Callable[..., Flask]) -> None:
    client = make_app(admin_user=USER, admin_password=PASSWORD).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_basic(USER, PASSWORD)).status_code == 200


def test_credentials_are_compared_in_constant_time(
    admin_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timing is not measurable reliably in a test; what is checkable is that every
    # comparison goes through hmac.compare_digest on equal-length digests, so neither
    # the content nor the length of the secret changes the work done.
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(helpers.hmac, "compare_digest", spy)
    admin_app.test_client().get("/_admin_probe", headers=_basic("a", "b" * 300))
    assert len(calls) == 2  # user and password both compared, no short-circuit
    assert all(isinstance(a, bytes) and len(a) == len(b) == 32 for a, b in calls)


def test_failed_admin_logins_are_limited_per_client_right_ones_included_after_that(
    make_app: Callable[..., Flask],
) -> None:
    app = _app_with_probe(
        make_app, admin_user=USER, admin_password=PASSWORD, admin_auth_rate_limit="3 per minute"
    )
    client = app.test_client()
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    wrong = [
        client.get("/_admin_probe", headers={**_basic(USER, f"guess{n}"), **guesser}).status_code
        for n in range(3)
    ]
    assert wrong == [401, 401, 401]
    blocked = client.get("/_admin_probe", headers={**_basic(USER, PASSWORD), **guesser})
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) > 0
    # Another client is not affected.
    other = {"X-Forwarded-For": "198.51.100.4"}
    allowed = client.get("/_admin_probe", headers={**_basic(USER, PASSWORD), **other})
    assert allowed.status_code == 200


def test_a_request_without_credentials_is_no_failed_login(
    make_app: Callable[..., Flask],
) -> None:
    app = _app_with_probe(
        make_app, admin_user=USER, admin_password=PASSWORD, admin_auth_rate_limit="1 per minute"
    )
    client = app.test_client()
    assert [client.get("/_admin_probe").status_code for _ in range(3)] == [401, 401, 401]
    assert client.get("/_admin_probe", headers=_basic(USER, PASSWORD)).status_code == 200

"""Security headers everywhere, HSTS only over https, production cookies and secrets,
https-only behind the router, and no debug pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from app import create_app
from app.config import ConfigError, Settings
from tests.conftest import signed_in

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
SECRET = "a-long-random-production-secret-for-tests"


def _assert_security_headers(headers: object, where: str) -> None:
    csp = headers.get("Content-Security-Policy", "")  # type: ignore[attr-defined]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, where
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, where
    assert headers.get("X-Content-Type-Options") == "nosniff", where  # type: ignore[attr-defined]
    assert headers.get("X-Frame-Options") == "DENY", where  # type: ignore[attr-defined]
    assert headers.get("Referrer-Policy"), where  # type: ignore[attr-defined]


def _failing_app(make_app: Callable[..., Flask], **changes: object) -> Flask:
    app = make_app(**changes)

    def boom() -> str:
        raise RuntimeError("secret-internal-detail")

    app.add_url_rule("/_boom", "boom", boom)
    return app


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/", HTML),
        ("/api/feeds", JSON),
        ("/healthz", {}),
        ("/openapi.yaml", {}),
        ("/static/style.css", {}),
        ("/static/app.js", {}),
        ("/no-such-page", HTML),
        ("/api/feeds/999", JSON),
        ("/fetches/not-a-uuid", JSON),
    ],
)
def test_responses_carry_the_security_headers(
    make_app: Callable[..., Flask], path: str, headers: dict[str, str]
) -> None:
    response = signed_in(make_app()).get(path, headers=headers)
    assert response.status_code < 500
    _assert_security_headers(response.headers, path)


def test_error_responses_from_failing_views_carry_the_security_headers(
    make_app: Callable[..., Flask],
) -> None:
    client = signed_in(_failing_app(make_app))
    for headers in (HTML, JSON):
        response = client.get("/_boom", headers=headers)
        assert response.status_code == 500
        _assert_security_headers(response.headers, str(headers))


def test_method_not_allowed_and_too_large_answers_carry_the_headers(
    make_app: Callable[..., Flask],
) -> None:
    client = signed_in(make_app())
    not_allowed = client.get("/api/mark-all-read", headers=JSON)
    assert not_allowed.status_code == 405
    _assert_security_headers(not_allowed.headers, "405")
    too_large = client.post("/feeds", data="x" * (2 * 1024 * 1024), content_type="application/json")
    assert too_large.status_code == 413
    _assert_security_headers(too_large.headers, "413")


def test_no_hsts_over_plain_http(make_app: Callable[..., Flask]) -> None:
    response = signed_in(make_app()).get("/", headers=HTML)
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_when_the_router_says_the_request_came_over_https(
    make_app: Callable[..., Flask],
) -> None:
    response = signed_in(make_app()).get("/", headers={**HTML, **HTTPS})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 86400


def test_production_session_cookie_is_secure_httponly_and_samesite(
    make_app: Callable[..., Flask],
) -> None:
    client = signed_in(make_app(env="production", secret_key=SECRET))
    response = client.get("/", headers={**HTML, **HTTPS})  # the form sets the CSRF session
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("session="), cookie
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower() or "samesite=strict" in cookie.lower()


def test_production_redirects_plain_http_through_the_router_to_https(
    make_app: Callable[..., Flask],
) -> None:
    client = signed_in(make_app(env="production", secret_key=SECRET))
    response = client.get(
        "/feeds/1?x=1",
        headers={"X-Forwarded-Proto": "http", "Host": "feedqueue.herokuapp.com"},
    )
    assert response.status_code == 308
    assert response.headers["Location"] == "https://feedqueue.herokuapp.com/feeds/1?x=1"


def test_production_serves_direct_local_requests_without_redirect(
    make_app: Callable[..., Flask],
) -> None:
    # No X-Forwarded-Proto: a local run of the Procfile, not a request via the router.
    client = signed_in(make_app(env="production", secret_key=SECRET))
    assert client.get("/healthz").status_code == 200


def test_secret_key_is_required_in_production(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(
            {
                "DATABASE_URL": settings.database_url or "",
                "REDIS_URL": settings.redis_url or "",
            }
        )


def test_the_app_refuses_to_start_in_production_without_secret_key(settings: Settings) -> None:
    from dataclasses import replace

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(replace(settings, env="production", secret_key=None))


def test_production_uses_the_configured_secret_key(make_app: Callable[..., Flask]) -> None:
    app = make_app(env="production", secret_key=SECRET)
    assert app.config["SECRET_KEY"] == SECRET
    assert app.debug is False


@pytest.mark.parametrize("env", ["production", "test"])
def test_an_exception_in_a_view_gives_a_json_500_without_traceback(
    make_app: Callable[..., Flask], env: str
) -> None:
    app = _failing_app(make_app, env=env, secret_key=SECRET)
    response = signed_in(app).get("/_boom", headers={**JSON, **HTTPS})
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert b"Traceback" not in response.data and b"secret-internal-detail" not in response.data


def test_an_exception_in_a_view_gives_an_html_500_without_traceback(
    make_app: Callable[..., Flask],
) -> None:
    app = _failing_app(make_app, env="production", secret_key=SECRET)
    response = signed_in(app).get("/_boom", headers={**HTML, **HTTPS})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "secret-internal-detail" not in body
    assert "werkzeug" not in body.lower() and "debugger" not in body.lower()

"""CSRF on every form post, JSON only as application/json, and the request size limit.

The POST routes are discovered from the app's URL map, so forms added later
(pause, resume, delete, OPML import...) are covered without editing this file.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask, url_for
from sqlalchemy import func, select
from werkzeug.routing import Rule

from app.storage.db import Database
from app.storage.models import Feed, Fetch, WebSubDelivery
from tests.conftest import signed_in

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def _post_rules(app: Flask) -> list[Rule]:
    """Every POST route a browser's session cookie can act through.

    Views marked public check a credential of their own and never read the cookie
    (the Fever API's api_key, the Google Reader API's token): they are left out, and
    test_an_own_credentials_post_ignores_the_session_cookie proves they ignore it.
    """
    return [
        r
        for r in app.url_map.iter_rules()
        if "POST" in (r.methods or ())
        and not getattr(app.view_functions[r.endpoint], "own_credentials", False)
    ]


def test_an_own_credentials_post_ignores_the_session_cookie(
    make_app: Callable[..., Flask], db: Database
) -> None:
    app = make_app()
    client = signed_in(app)
    own = [
        r
        for r in app.url_map.iter_rules()
        if "POST" in (r.methods or ())
        and getattr(app.view_functions[r.endpoint], "own_credentials", False)
    ]
    fever = [r for r in own if r.endpoint.startswith("fever.")]
    greader = [r for r in own if r.endpoint.startswith(("greader.", "greader_php."))]
    websub = [r for r in own if r.endpoint == "websub.callback"]
    assert {r.endpoint for r in fever} == {"fever.fever_php", "fever.fever_miniflux"}
    assert len(greader) == 2 * 18 and len(websub) == 1
    assert len(fever) + len(greader) + len(websub) == len(own)
    for rule in fever + websub:
        url = _example_url(app, rule)
        if rule.endpoint == "websub.callback":
            # The cookie names no subscription: only the token and the hub's signature do.
            assert client.post(url, data=b"<feed/>").status_code == 410, url
            assert _count(db, WebSubDelivery) == 0
            continue
        # A cross-site form riding on the cookie: no key, so nobody, and nothing done.
        response = client.post(url + "?api&groups", data={"mark": "group", "as": "read", "id": "0"})
        assert response.status_code == 200, url
        assert response.get_json() == {"api_version": 3, "auth": 0}, url
    for rule in greader:
        url = _example_url(app, rule)
        # The Google Reader API: no token, so nobody (ClientLogin: no app password).
        form = {"ac": "unsubscribe", "s": "feed/1", "i": "1", "a": "user/-/state/com.google/read"}
        response = client.post(url, data=form)
        assert response.status_code == 401, url


def _example_url(app: Flask, rule: Rule) -> str:
    """A URL that routes to ``rule``, with placeholder values for its arguments."""
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if kind in ("IntegerConverter", "NumberConverter"):
            values[name] = 1
        elif kind == "UUIDConverter":
            values[name] = uuid.uuid4()
        else:
            values[name] = "x"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_app_has_form_post_routes_to_check(make_app: Callable[..., Flask]) -> None:
    # Guards the discovery below: an empty list would make the CSRF tests vacuous.
    endpoints = {r.endpoint for r in _post_rules(make_app())}
    assert {"submit.submit_feed", "submit.refresh_feed"} <= endpoints


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"url": "https://example.com/feed"}, None),  # application/x-www-form-urlencoded
        ({"url": "https://example.com/feed", "file": (b"x", "f.opml")}, "multipart/form-data"),
        ('{"url": "https://example.com/feed"}', "text/plain"),
        (b"", None),
    ],
    ids=["urlencoded", "multipart", "text-plain", "empty"],
)
def test_every_post_route_refuses_a_tokenless_cross_site_body(
    make_app: Callable[..., Flask], db: Database, body: object, content_type: str | None
) -> None:
    app = make_app()
    client = signed_in(app)
    refused = {}
    for rule in _post_rules(app):
        url = _example_url(app, rule)
        kwargs: dict[str, object] = {"data": body, "headers": JSON}
        if content_type:
            kwargs["content_type"] = content_type
        response = client.post(url, **kwargs)
        refused[url] = (response.status_code, (response.get_json() or {}).get("error", {}))
    assert all(
        status == 400 and error.get("code") == "csrf_failed" for status, error in refused.values()
    ), refused
    assert _count(db, Feed) == 0 and _count(db, Fetch) == 0


def test_json_lookalike_content_types_still_need_the_token(
    make_app: Callable[..., Flask], db: Database
) -> None:
    client = signed_in(make_app())
    for content_type in ("application/vnd.api+json", "application/merge-patch+json"):
        response = client.post(
            "/feeds",
            data='{"url": "https://example.com/feed"}',
            content_type=content_type,
            headers=JSON,
        )
        assert response.status_code == 400, content_type
        assert response.get_json()["error"]["code"] == "csrf_failed"
    assert _count(db, Feed) == 0


def test_a_form_post_with_the_pages_token_is_accepted(
    make_app: Callable[..., Flask], db: Database
) -> None:
    # The other half of the CSRF proof: the token the page hands out works.
    client = signed_in(make_app())
    page = client.get("/", headers=HTML).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the home page form carries no CSRF token"
    response = client.post(
        "/feeds",
        data={"url": "https://example.com/feed", "csrf_token": token.group(1)},
        headers=HTML,
    )
    assert response.status_code == 303
    assert _count(db, Feed) == 1


def test_a_token_from_another_session_is_refused(
    make_app: Callable[..., Flask], db: Database
) -> None:
    app = make_app()
    page = signed_in(app).get("/", headers=HTML).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = signed_in(app).post(
        "/feeds",
        data={"url": "https://example.com/feed", "csrf_token": token.group(1)},
        headers=JSON,
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_application_json_needs_no_token(make_app: Callable[..., Flask], db: Database) -> None:
    response = signed_in(make_app()).post("/feeds", json={"url": "https://example.com/feed"})
    assert response.status_code == 202


def test_a_body_over_one_mebibyte_is_refused_with_413_too_large(
    make_app: Callable[..., Flask], db: Database
) -> None:
    big = '{"url": "https://example.com/feed", "pad": "' + "x" * (1024 * 1024) + '"}'
    response = signed_in(make_app()).post("/feeds", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert _count(db, Feed) == 0


def test_a_large_form_is_refused_with_413_before_the_csrf_check(
    make_app: Callable[..., Flask],
) -> None:
    response = (
        make_app()
        .test_client()
        .post("/feeds", data={"url": "https://e.com/", "pad": "x" * (1024 * 1024)}, headers=JSON)
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_a_body_just_under_the_limit_is_read(make_app: Callable[..., Flask], db: Database) -> None:
    # The limit is not set lower than promised: 1 MiB minus a little still gets through.
    pad = "x" * (1024 * 1024 - 100)
    body = '{"url": "https://example.com/feed", "pad": "' + pad + '"}'
    response = signed_in(make_app()).post("/feeds", data=body, content_type="application/json")
    assert response.status_code == 202

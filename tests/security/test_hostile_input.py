"""Property-based: whatever strangers send, the app never answers 500, and every 4xx
to an API client is JSON with an error code.

Runs against the real app, Postgres and Redis through the Flask test client.
Example counts are modest to keep the suite quick; the strategies aim at the
places where parsing happens (URLs, JSON bodies, form fields, query strings).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from tests.conftest import signed_in

JSON = {"Accept": "application/json"}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

_url_like = st.one_of(
    st.text(max_size=120),
    st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "https", "javascript", "file", "gopher", "HTTP"]),
        st.text(min_size=0, max_size=40),
        st.sampled_from(["", ":", ":0", ":65536", ":99999999999", ":-1", ":8080"]),
        st.text(max_size=60),
    ),
    st.from_regex(r"\Ahttps?://[a-z0-9.\-\[\]:%@]{0,40}(/[^#\s]{0,40})?\Z"),
    st.just("https://example.com/" + "a" * 3000),
)


def _assert_well_formed(response: TestResponse) -> None:
    assert response.status_code < 500, (response.status_code, response.data[:300])
    if 400 <= response.status_code < 500:
        body = response.get_json(silent=True)
        assert isinstance(body, dict), response.data[:300]
        assert isinstance(body["error"]["code"], str) and body["error"]["code"]
        assert isinstance(body["error"]["message"], str)


@FUZZ
@given(url=_url_like)
def test_any_submitted_url_gets_202_or_a_json_error(client: FlaskClient, url: str) -> None:
    response = client.post("/feeds", json={"url": url})
    _assert_well_formed(response)
    assert response.status_code in (202, 400)


@FUZZ
@given(body=_json_values)
def test_any_json_body_gets_202_or_a_json_error(client: FlaskClient, body: object) -> None:
    for payload in (body, {"url": body}):
        response = client.post("/feeds", data=json.dumps(payload), content_type="application/json")
        _assert_well_formed(response)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_any_bytes_sent_as_json_get_a_json_error(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/feeds", data=raw, content_type="application/json")
    _assert_well_formed(response)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["url", "csrf_token", "URL", "url[]", "x"]) | st.text(max_size=10),
        st.text(max_size=80) | _url_like,
        max_size=4,
    )
)
def test_any_form_fields_get_202_or_a_json_error(
    client: FlaskClient, fields: dict[str, str]
) -> None:
    response = client.post("/feeds", data=fields, headers=JSON)
    _assert_well_formed(response)


@FUZZ
@given(
    limit=st.none() | st.text(max_size=8) | st.integers().map(str),
    cursor=st.none()
    | st.text(max_size=60)
    | st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode())
    | st.builds(
        lambda when, ident: base64.urlsafe_b64encode(f"{when}|{ident}".encode()).decode(),
        st.sampled_from(["2024-01-01T00:00:00+00:00", "9999-12-31T23:59:59", "x", ""]),
        st.integers() | st.text(max_size=5),
    ),
)
@example(limit="²", cursor=None)  # str.isdigit() is true for it, int() is not
@example(limit=None, cursor=base64.urlsafe_b64encode(b"99999999999999999999").decode())
@example(limit=None, cursor=base64.urlsafe_b64encode(b"2024-01-01|99999999999999999999").decode())
def test_any_paging_parameters_get_a_page_or_a_json_error(
    client: FlaskClient, limit: str | None, cursor: str | None
) -> None:
    # A real feed, so the items listing gets as far as decoding the cursor.
    feed_id = client.post("/feeds", json={"url": "https://example.com/f"}).get_json()["fetch"][
        "feed_id"
    ]
    params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
    for path in ("/api/feeds", f"/api/feeds/{feed_id}/items"):
        _assert_well_formed(client.get(path, query_string=params))
    page = client.get(f"/feeds/{feed_id}", query_string=params, headers={"Accept": "text/html"})
    assert page.status_code < 500


@FUZZ
@given(segment=st.text(min_size=1, max_size=40) | st.integers().map(str))
def test_any_id_in_a_path_gets_a_json_answer(client: FlaskClient, segment: str) -> None:
    quoted = quote(segment, safe="")
    for path in (f"/fetches/{quoted}", f"/api/feeds/{quoted}", f"/api/feeds/{quoted}/items"):
        _assert_well_formed(client.get(path))
    _assert_well_formed(client.post(f"/feeds/{quoted}/refresh", json={}))


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("path", ["/feeds", "/feeds/1/refresh", "/api/feeds", "/status/requeue"])
def test_deeply_nested_json_is_400_invalid_json_on_any_endpoint(
    client: FlaskClient, path: str, depth: int
) -> None:
    body = "[" * depth + "]" * depth
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code < 500
    if path == "/feeds":
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_json"


def test_a_view_that_reads_json_strictly_gets_400_invalid_json_for_a_deep_body(
    app: Flask,
) -> None:
    @app.post("/_strict_json")
    def strict() -> dict[str, object]:
        return {"got": type(request.get_json()).__name__}

    body = "{\"a\":" * 50_000 + "1" + "}" * 50_000
    response = signed_in(app).post("/_strict_json", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"

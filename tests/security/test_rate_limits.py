"""Per-client rate limits, with the client address taken from exactly one proxy hop.

Heroku's router appends the address it saw to X-Forwarded-For, so only the last
entry is trustworthy; anything before it was written by the client.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import signed_in

LIMIT = "2 per minute"


def _submit(client: FlaskClient, forwarded_for: str, n: int = 0) -> int:
    response = client.post(
        "/feeds",
        json={"url": f"https://example.com/feed-{n}"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def _limited_client(make_app: Callable[..., Flask]) -> FlaskClient:
    return signed_in(make_app(submit_rate_limit=LIMIT))


def test_a_client_over_its_budget_gets_429_json_with_retry_after(
    make_app: Callable[..., Flask],
) -> None:
    client = _limited_client(make_app)
    assert [_submit(client, "203.0.113.7", i) for i in range(2)] == [202, 202]
    response = client.post(
        "/feeds", json={"url": "https://example.com/x"}, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_a_spoofed_extra_forwarded_for_entry_gives_no_fresh_budget(
    make_app: Callable[..., Flask],
) -> None:
    client = _limited_client(make_app)
    assert [_submit(client, "203.0.113.7", i) for i in range(2)] == [202, 202]
    # The client prepends a made-up address; the router still appends the real one.
    assert _submit(client, "198.51.100.99, 203.0.113.7", 3) == 429
    assert _submit(client, "10.0.0.1, 198.51.100.1, 203.0.113.7", 4) == 429


def test_different_real_clients_get_separate_budgets(make_app: Callable[..., Flask]) -> None:
    client = _limited_client(make_app)
    assert [_submit(client, "203.0.113.7", i) for i in range(3)] == [202, 202, 429]
    # Same spoofed first entry, different last hop: a different client.
    assert _submit(client, "203.0.113.7, 203.0.113.8", 10) == 202
    assert _submit(client, "198.51.100.20", 11) == 202


def test_ipv6_clients_share_a_budget_per_64_block(make_app: Callable[..., Flask]) -> None:
    client = _limited_client(make_app)
    assert _submit(client, "2001:db8:1:2::1", 1) == 202
    assert _submit(client, "2001:db8:1:2::ffff", 2) == 202
    # Another address in the same /64 (one subscriber's block) is the same client.
    assert _submit(client, "2001:db8:1:2:aaaa::3", 3) == 429
    assert _submit(client, "2001:db8:1:3::1", 4) == 202


def test_refresh_has_its_own_per_client_limit(make_app: Callable[..., Flask]) -> None:
    client = _limited_client(make_app)
    feed_id = client.post(
        "/feeds", json={"url": "https://example.com/f"}, headers={"X-Forwarded-For": "192.0.2.1"}
    ).get_json()["fetch"]["feed_id"]
    codes = [
        client.post(
            f"/feeds/{feed_id}/refresh", json={}, headers={"X-Forwarded-For": "192.0.2.2"}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [202, 202, 429]


def test_form_clients_get_the_429_as_a_page_with_retry_after(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(submit_rate_limit=LIMIT)
    app.config["WTF_CSRF_ENABLED"] = False  # the token is not what this test is about
    client = signed_in(app)
    headers = {"X-Forwarded-For": "192.0.2.9", "Accept": "text/html"}
    for _ in range(2):
        client.post("/feeds", data={"url": "https://example.com/f"}, headers=headers)
    response = client.post("/feeds", data={"url": "https://example.com/f"}, headers=headers)
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) > 0

"""FetchError: transient flags per code, pickling, Retry-After parsing."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from app.pipeline import FetchError
from app.pipeline.errors import http_error, parse_retry_after


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        ("timeout", True),
        ("connection_error", True),
        ("dns_error", True),
        ("http_500", True),
        ("http_503", True),
        ("http_429", True),
        ("http_408", True),
        ("http_404", False),
        ("http_410", False),
        ("invalid_url", False),
        ("blocked_address", False),
        ("tls_error", False),
        ("too_large", False),
        ("too_many_redirects", False),
        ("not_a_feed", False),
        ("parse_error", False),
    ],
)
def test_transient_flag_follows_the_code(code: str, transient: bool) -> None:
    assert FetchError(code, "m").transient is transient


def test_fetch_error_survives_pickling_with_all_fields() -> None:
    error = FetchError("http_429", "slow down", retry_after=30.0, http_status=429)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message, copy.transient, copy.retry_after, copy.http_status) == (
        "http_429",
        "slow down",
        True,
        30.0,
        429,
    )
    assert str(copy) == "slow down"


def test_retry_after_http_date_is_relative_to_now() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 12:05:00 GMT", now) == 300.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
def test_unusable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_http_error_messages_are_human_and_have_no_traceback() -> None:
    error = http_error(503, {"retry-after": "60"})
    assert error.message == (
        "The server answered 503 Service Unavailable: this is usually temporary; "
        "the fetch will be retried in 60 s."
    )
    assert "Traceback" not in error.message

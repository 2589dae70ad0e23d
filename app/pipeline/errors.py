"""FetchError, its stable codes, and the mapping from HTTP statuses to errors.

Codes are part of the contract with the job code and the API: never rename one.
"""

from __future__ import annotations

import email.utils
import http
import re
from collections.abc import Mapping
from datetime import UTC, datetime

# Codes that are not `http_<status>`; the value says whether a retry may help.
CODES: dict[str, bool] = {
    "invalid_url": False,
    "blocked_address": False,
    "dns_error": True,
    "timeout": True,
    "connection_error": True,
    "tls_error": False,
    "too_large": False,
    "too_many_redirects": False,
    "not_a_feed": False,
    "parse_error": False,
    # The document passed a parsing cap (elements, depth, attributes, the parser's
    # memory) or its CPU budget: the same bytes would fail the same way again.
    "parse_limit": False,
    "parse_timeout": False,
}

MAX_RETRY_AFTER = 24 * 3600.0  # a server cannot park a feed for more than a day


def is_transient(code: str) -> bool:
    """True when retrying later may succeed (network trouble, 5xx, 408, 429)."""
    if code in CODES:
        return CODES[code]
    match = re.fullmatch(r"http_(\d{3})", code)
    if not match:
        return False
    status = int(match.group(1))
    return status >= 500 or status in (408, 429)


class FetchError(Exception):
    """A fetch failed; `code` is stable, `message` is for people."""

    code: str
    message: str
    transient: bool
    retry_after: float | None
    http_status: int | None

    def __init__(
        self,
        code: str,
        message: str,
        *,
        transient: bool | None = None,
        retry_after: float | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = is_transient(code) if transient is None else transient
        self.retry_after = retry_after
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple:
        # Keyword-only fields would be lost by Exception's default pickling (job queues pickle).
        return (FetchError, (self.code, self.message), dict(self.__dict__))

    def __repr__(self) -> str:
        return f"FetchError(code={self.code!r}, message={self.message!r})"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from Retry-After (delta-seconds or HTTP-date), clamped to [0, 24h]."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT by definition
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def http_error(status: int, headers: Mapping[str, str]) -> FetchError:
    """The FetchError for a final 4xx/5xx (or unusable 3xx) answer."""
    code = f"http_{status}"
    head = f"The server answered {status} {_phrase(status)}"
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 404:
        message = f"{head}: check the address."
    elif status == 410:
        message = f"{head}: the feed was removed for good; remove it or find its new address."
    elif status in (401, 403):
        message = f"{head}: the feed needs a login or refuses automated readers."
    elif status == 429 or status >= 500 or status == 408:
        when = f" in {int(retry_after)} s" if retry_after is not None else " later"
        message = f"{head}: this is usually temporary; the fetch will be retried{when}."
    elif 300 <= status < 400:
        message = f"{head} without a usable Location header: the server is misconfigured."
    else:
        message = f"{head}: check the address."
    return FetchError(code, message, retry_after=retry_after, http_status=status)

"""Transport failures (requests, urllib3, ssl, socket exceptions) mapped to stable FetchErrors.

Messages are written for people: the innermost reason is extracted, never a repr chain.
"""

from __future__ import annotations

import ssl
from urllib.parse import urljoin

import requests
import urllib3.exceptions as u3

from .errors import FetchError
from .models import FetchLimits
from .transport import FetchContext


def timeout_error(limits: FetchLimits) -> FetchError:
    """The error for a fetch that ran out of time."""
    return FetchError(
        "timeout",
        f"The server did not deliver the feed within {limits.deadline:g} s; "
        "it may be overloaded. The fetch will be retried.",
    )


def read_timeout_error(limits: FetchLimits) -> FetchError:
    """The error for a fetch whose time ran out while its document was being read: the
    server delivered it, so the message must not blame the server."""
    return FetchError(
        "timeout",
        f"The feed was downloaded, but reading it did not finish within the fetch's "
        f"{limits.deadline:g} s. The fetch will be retried.",
    )


def map_transport_error(
    exc: BaseException, ctx: FetchContext, limits: FetchLimits, url: str
) -> FetchError:
    """Turn a requests/urllib3/socket exception into a FetchError with a stable code."""
    host = urljoin(url, "/")
    if ctx.expired or ctx.remaining() <= 0:
        return timeout_error(limits)  # whatever broke, the watchdog or the clock caused it
    if isinstance(exc, requests.exceptions.SSLError | u3.SSLError):
        return FetchError(
            "tls_error", f"The secure connection to {host} failed: {_tls_reason(exc)}"
        )
    if isinstance(exc, requests.exceptions.Timeout | u3.TimeoutError | TimeoutError):
        return timeout_error(limits)
    if isinstance(exc, requests.exceptions.ContentDecodingError | u3.DecodeError):
        return FetchError(
            "parse_error", "The server sent a compressed body that could not be decompressed."
        )
    if isinstance(exc, requests.exceptions.InvalidURL | u3.LocationParseError):
        return FetchError("invalid_url", f"{url!r} is not a valid web address.")
    return FetchError(
        "connection_error",
        f"Could not talk to {host}: the connection was refused or broken. "
        "The fetch will be retried.",
    )


def _tls_reason(exc: BaseException) -> str:
    """The innermost ssl error's own words (requests wraps it in several layers of repr)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"the certificate is not valid ({current.verify_message})."
        if isinstance(current, ssl.SSLError) and current.reason:
            return f"TLS error {current.reason}."
        todo.extend([*current.args, current.__cause__, current.__context__])
        todo.append(getattr(current, "reason", None))
    return "the TLS handshake did not succeed."

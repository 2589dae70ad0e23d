"""Validating and normalising the feed URLs people submit.

One feed must never be stored twice under two spellings, so every URL is
reduced to one canonical form before it touches the database: lower-case
scheme and host, IDNA host, no default port, no fragment, a path of at least
"/". Anything that is not a plain http(s) URL with a host is refused.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that are never valid in a URL: controls and whitespace.
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class InvalidURL(ValueError):
    """The URL cannot be a feed address; ``message`` says why, for a person."""

    code = "invalid_url"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalize_url(raw: object) -> str:
    """Return the canonical form of a submitted feed URL, or raise InvalidURL."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidURL("Enter the address of a feed, starting with http:// or https://.")
    url = raw.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"The address is longer than {MAX_URL_LENGTH} characters.")
    if _BAD_CHARS.search(url):
        raise InvalidURL("The address contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"The address is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL("Only http:// and https:// addresses can be fetched.")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("Addresses with a user name or password are not accepted.")
    host = _normalize_host(parts.hostname or "")
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        if port == 0:
            raise InvalidURL("Port 0 is not a valid port.")
        netloc = f"{netloc}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    normalized = urlunsplit(SplitResult(scheme, netloc, path, query, ""))
    if len(normalized) > MAX_URL_LENGTH:
        raise InvalidURL(f"The address is longer than {MAX_URL_LENGTH} characters.")
    return normalized


def _normalize_host(host: str) -> str:
    if not host:
        raise InvalidURL("The address has no host name.")
    host = host.rstrip(".").lower()
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidURL("The host name is not a valid domain name.") from None
    labels = ascii_host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise InvalidURL("The host name is not a valid domain name.")
    return ascii_host

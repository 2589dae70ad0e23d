"""Validating and normalising the feed URLs people submit.

One feed must never be stored twice under two spellings, so every URL is
reduced to one canonical form before it touches the database (RFC 3986
section 6 normalisation plus what browsers do to hosts):

- scheme and host in lower case; IDNA (punycode) hosts; trailing dots dropped;
- IPv4 hosts in dotted-quad form, whatever legacy spelling was used
  (``2130706433``, ``0x7f.1``), as the WHATWG URL standard reads them;
- no default port, no fragment, no empty query (``?``), a path of at least "/";
- percent-escapes of unreserved characters decoded, all others in upper case,
  characters that need escaping escaped, ``.`` and ``..`` path segments resolved.

Anything that is not a plain http(s) URL with a host is refused.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from app.pipeline.addresses import parse_ipv4_literal

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that are never valid in a URL: controls and whitespace.
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Left as they are by quote(): RFC 3986 sub-delims, ":" and "@" (and "/", "?" in a query).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/?%:@!$&'()*+,;=-._~"
_IPV4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


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
        url.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from a JSON "\ud800" escape
        raise InvalidURL("The address is not valid text.") from None
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
    path = _remove_dot_segments(_normalize_escapes(parts.path, _PATH_SAFE)) or "/"
    query = _normalize_escapes(parts.query, _QUERY_SAFE)
    normalized = urlunsplit(SplitResult(scheme, netloc, path, query, ""))
    if len(normalized) > MAX_URL_LENGTH:
        raise InvalidURL(f"The address is longer than {MAX_URL_LENGTH} characters.")
    return normalized


def _normalize_escapes(component: str, safe: str) -> str:
    """Escape what must be escaped, decode escaped unreserved characters, upper-case the rest."""
    # A "%" that does not start an escape is a literal percent sign.
    component = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", component)
    component = quote(component, safe=safe)

    def _one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _ESCAPE.sub(_one, component)


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments (RFC 3986 section 5.2.4)."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _normalize_host(host: str) -> str:
    if not host:
        raise InvalidURL("The address has no host name.")
    if "%" in host:
        # Percent-escapes in hosts, and IPv6 zone ids ("fe80::1%eth0"), are refused.
        raise InvalidURL("The host name is not a valid domain name.")
    host = host.rstrip(".").lower()
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidURL("The host name is not a valid domain name.") from None
    ascii_host = ascii_host.rstrip(".")
    labels = ascii_host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise InvalidURL("The host name is not a valid domain name.")
    ipv4 = _legacy_ipv4(labels)
    return ipv4 if ipv4 is not None else ascii_host


def _legacy_ipv4(labels: list[str]) -> str | None:
    """Dotted-quad form of a host whose last label is a number, as browsers parse it.

    ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` all mean 127.0.0.1 to a browser and
    to the system resolver; a host ending in a number that is no IPv4 address is refused.
    """
    if not _IPV4_PART.match(labels[-1]) and not labels[-1].isdigit():
        return None
    address = parse_ipv4_literal(".".join(labels))
    if address is None:
        raise InvalidURL("The host name is not a valid domain name or IPv4 address.")
    return str(address)

"""Safe HTTP download of one feed URL: guard, redirects, conditional GET, size and time caps.

Every hop is checked by the guard and sent through a PinnedAdapter, so the connection goes
to the address that was checked. The body is counted after decompression, so a gzip or
deflate bomb stops at `max_bytes`. The whole fetch, redirects and body included, must finish
within `limits.deadline`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3.exceptions as u3

from .errors import FetchError, http_error
from .failures import map_transport_error, timeout_error
from .guard import resolve_allowed, split_url
from .models import Download, FetchLimits, Validators
from .transport import FetchContext, PinnedAdapter

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
CHUNK_SIZE = 64 * 1024


def _has_credentials(url: str) -> bool:
    """True when ``url`` carries a user name or password (``user:pass@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "@" in url.split("?", 1)[0].split("#", 1)[0]
    return parts.username is not None or parts.password is not None


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _cache_max_age(headers: Mapping[str, str]) -> int | None:
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})", headers.get("cache-control", ""))
    return int(match.group(1)) if match else None


def _request_headers(limits: FetchLimits, validators: Validators | None) -> dict[str, str]:
    headers = {
        "User-Agent": limits.user_agent,
        "Accept": ACCEPT,
        "Accept-Encoding": "gzip, deflate",
    }
    if validators and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


class _Hops:
    """Sends one request per hop through the guard and the pinned adapter."""

    def __init__(
        self,
        limits: FetchLimits,
        headers: dict[str, str],
        session: requests.Session | None,
        ctx: FetchContext,
        adapter: PinnedAdapter,
    ) -> None:
        self.limits = limits
        self.headers = headers
        self.session = session
        self.ctx = ctx
        self.adapter = adapter

    def prepare(self, url: str) -> requests.PreparedRequest:
        """Validate `url` and build the request (normalised URL, merged session headers)."""
        split_url(url)
        request = requests.Request("GET", url, headers=self.headers)
        try:
            prepared = self.session.prepare_request(request) if self.session else request.prepare()
        except (requests.exceptions.RequestException, ValueError, u3.LocationParseError):
            raise FetchError("invalid_url", f"{url!r} is not a valid web address.") from None
        if not prepared.url:
            raise FetchError("invalid_url", f"{url!r} is not a valid web address.")
        return prepared

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send one GET through the guard (no redirects followed); return the streaming response."""
        assert prepared.url is not None
        remaining = self.ctx.remaining()
        if remaining <= 0:
            raise timeout_error(self.limits)
        self.ctx.pin(resolve_allowed(prepared.url, self.limits, timeout=remaining))
        remaining = self.ctx.remaining()
        timeout = (
            max(min(self.limits.connect_timeout, remaining), 0.001),
            max(min(self.limits.read_timeout, remaining), 0.001),
        )
        try:
            response = self.adapter.send(
                prepared,
                stream=True,
                timeout=timeout,
                verify=self.session.verify if self.session else True,
                cert=self.session.cert if self.session else None,
                proxies={},
            )
        except FetchError:
            raise
        except Exception as exc:  # transport failures of every kind map to stable codes
            raise map_transport_error(exc, self.ctx, self.limits, prepared.url) from None
        return response


def _read_body(
    response: requests.Response, ctx: FetchContext, limits: FetchLimits, url: str
) -> tuple[bytes, int]:
    """Stream the decompressed body within deadline and size cap; return (body, wire bytes)."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limits.max_bytes:
        raise FetchError(
            "too_large",
            f"The feed is {_megabytes(int(length))}, "
            f"over the {_megabytes(limits.max_bytes)} limit.",
        )
    raw = response.raw
    conn = getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            remaining = ctx.remaining()
            if remaining <= 0 or ctx.expired:
                raise timeout_error(limits)
            if sock is not None:
                # Bound each socket read by what is left of the deadline, not only read_timeout.
                sock.settimeout(max(min(limits.read_timeout, remaining), 0.001))
            chunk = raw.read1(CHUNK_SIZE, decode_content=True)
            if not chunk:
                break
            total += len(chunk)
            if total > limits.max_bytes:
                raise FetchError(
                    "too_large",
                    f"The feed is over the {_megabytes(limits.max_bytes)} limit "
                    "(counted after decompression).",
                )
            chunks.append(chunk)
    except FetchError:
        raise
    except Exception as exc:
        raise map_transport_error(exc, ctx, limits, url) from None
    if ctx.expired:
        raise timeout_error(limits)  # the watchdog cut the socket: the body is truncated
    return b"".join(chunks), raw.tell()


def download(
    url: str,
    limits: FetchLimits,
    validators: Validators | None = None,
    session: requests.Session | None = None,
    *,
    deadline_at: float | None = None,
) -> Download:
    """Download `url` safely; raise FetchError on any failure.

    `session` lends its default headers, cookies, `verify` and `cert`; its transport adapters
    and proxies are never used, so a session cannot bypass the guard. `deadline_at`
    (time.monotonic() based) lets a caller share one deadline across several downloads.
    """
    start = time.monotonic()
    ctx = FetchContext(deadline_at if deadline_at is not None else start + limits.deadline)
    adapter = PinnedAdapter(ctx)
    try:
        return _download(url, limits, validators, session, ctx, adapter, start)
    finally:
        adapter.close()
        ctx.close()


def _download(
    url: str,
    limits: FetchLimits,
    validators: Validators | None,
    session: requests.Session | None,
    ctx: FetchContext,
    adapter: PinnedAdapter,
    start: float,
) -> Download:
    if _has_credentials(url):
        # A submitted address cannot carry them (app.urls); a discovered link could.
        raise FetchError(
            "invalid_url",
            "The address has a user name or password, which feedqueue does not use.",
        )
    hops = _Hops(limits, _request_headers(limits, validators), session, ctx, adapter)
    visited: set[str] = set()
    all_permanent = True
    redirects = 0
    current = url
    while True:
        prepared = hops.prepare(current)
        prepared_url = prepared.url or current
        if prepared_url in visited:
            raise FetchError(
                "too_many_redirects",
                f"The address redirects in a loop (back to {current}): the site is misconfigured.",
            )
        visited.add(prepared_url)
        response = hops.send(prepared)
        status = response.status_code
        location = response.headers.get("location")
        if status not in REDIRECT_STATUSES or not location:
            break
        response.close()
        redirects += 1
        all_permanent = all_permanent and status in PERMANENT_STATUSES
        current = urldefrag(urljoin(prepared_url, location.strip()))[0]
        if _has_credentials(current):
            # Never followed, stored or shown: the address itself is a secret.
            raise FetchError(
                "invalid_url",
                "The address redirects to an address with a user name or password, "
                "which feedqueue does not follow.",
            )
        if redirects > limits.max_redirects:
            raise FetchError(
                "too_many_redirects",
                f"The address redirected more than {limits.max_redirects} times; "
                "ask the site for the feed's current address.",
            )

    headers = {k.lower(): v for k, v in response.headers.items()}
    final_url = prepared_url
    permanent_url = final_url if redirects and all_permanent else None
    common = {
        "requested_url": url,
        "final_url": final_url,
        "permanent_url": permanent_url,
        "headers": headers,
        "cache_max_age": _cache_max_age(headers),
    }
    try:
        if status == 304:
            return Download(
                status=304,
                body=None,
                etag=headers.get("etag") or (validators.etag if validators else None),
                last_modified=headers.get("last-modified")
                or (validators.last_modified if validators else None),
                content_hash=validators.content_hash if validators else None,
                not_modified=True,
                bytes_downloaded=0,
                elapsed=time.monotonic() - start,
                **common,  # type: ignore[arg-type]
            )
        if not 200 <= status < 300:
            raise http_error(status, headers)
        body, wire_bytes = _read_body(response, ctx, limits, final_url)
    finally:
        response.close()
    digest = hashlib.sha256(body).hexdigest()
    return Download(
        status=status,
        body=body,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        content_hash=digest,
        not_modified=bool(validators and validators.content_hash == digest),
        bytes_downloaded=wire_bytes,
        elapsed=time.monotonic() - start,
        **common,  # type: ignore[arg-type]
    )

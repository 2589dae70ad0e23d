"""WebSub (PubSubHubbub 0.4) for the pipeline: hub discovery, signatures, requests to hubs.

Pure functions and one guarded HTTP call; no Flask, no database.

- Discovery: a feed names its hub and its own address (the topic) in HTTP ``Link``
  headers, or in the document: Atom ``<link rel="hub">`` / ``rel="self"``, RSS
  ``<atom:link>``, JSON Feed ``hubs``. The headers win over the document, as the
  specification asks of subscribers.
- Signatures: a hub signs each delivery with the subscription's secret,
  ``X-Hub-Signature: <method>=<hex HMAC>``, method sha1, sha256, sha384 or sha512.
- Requests to a hub (subscribe, unsubscribe) are form POSTs sent through the same
  SSRF guard and pinned transport as every fetch (guard.py, transport.py): a hub's
  address is checked like a feed's, and no redirect is followed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3.exceptions as u3

from .errors import FetchError, http_error
from .failures import map_transport_error, timeout_error
from .guard import resolve_allowed, split_url
from .models import FetchLimits
from .transport import FetchContext, PinnedAdapter

#: Signature methods a hub may use (WebSub 0.4, "Authenticated Content Distribution").
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
#: A hub's answer is a status line and a short text: anything longer is not read.
MAX_HUB_ANSWER = 4096

_LINK_VALUE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL_PARAM = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class HubLinks:
    """A feed's hub and topic (its self URL, else the address it was fetched from)."""

    hub_url: str
    topic_url: str


def _absolute(href: str, base_url: str) -> str | None:
    try:
        url = urldefrag(urljoin(base_url, href.strip()))[0]
    except ValueError:
        return None
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname else None


def link_header_rels(value: str | None, base_url: str) -> dict[str, list[str]]:
    """The URLs of an HTTP ``Link`` header by relation (``hub``, ``self``), in order."""
    found: dict[str, list[str]] = {}
    for match in _LINK_VALUE.finditer(value or ""):
        rel = _REL_PARAM.search(match.group(2) or "")
        if not rel:
            continue
        url = _absolute(match.group(1), base_url)
        if url is None:
            continue
        for name in (rel.group(1) or rel.group(2) or "").lower().split():
            found.setdefault(name, []).append(url)
    return found


def document_links(
    links: Iterable[Mapping[str, object]], base_url: str
) -> tuple[list[str], str | None]:
    """Hubs and self URL from a feed's ``<link>`` elements (feedparser's ``feed.links``)."""
    hubs: list[str] = []
    self_url: str | None = None
    for link in links:
        rel = str(link.get("rel") or "").lower()
        href = link.get("href")
        if not isinstance(href, str):
            continue
        url = _absolute(href, base_url)
        if url is None:
            continue
        if rel == "hub" and url not in hubs:
            hubs.append(url)
        elif rel == "self" and self_url is None:
            self_url = url
    return hubs, self_url


def choose_hub(
    headers: Mapping[str, str],
    document_hubs: list[str],
    document_self: str | None,
    fetched_url: str,
) -> HubLinks | None:
    """The hub and topic to subscribe to, or None when the feed names no hub.

    Link headers win over the document; the topic is the self URL, else ``fetched_url``.
    """
    rels = link_header_rels(headers.get("link"), fetched_url)
    if rels.get("hub"):
        hubs, self_url = rels["hub"], (rels.get("self") or [None])[0]
    else:
        hubs, self_url = document_hubs, document_self
    if not hubs:
        return None
    return HubLinks(hub_url=hubs[0], topic_url=self_url or document_self or fetched_url)


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value a hub sends for ``body`` (also used by tests and bench)."""
    digest = hmac.new(secret.encode(), body, SIGNATURE_METHODS[method]).hexdigest()
    return f"{method}={digest}"


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is a valid ``method=hex`` HMAC of ``body`` under ``secret``.

    Compared in constant time; an unknown method or a malformed value is invalid.
    """
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    algorithm = SIGNATURE_METHODS.get(method.strip().lower())
    if algorithm is None:
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def hub_request(url: str, form: Mapping[str, str], limits: FetchLimits) -> int:
    """POST ``form`` to the hub at ``url`` through the guard; return the 2xx status.

    Raises FetchError: the guard's codes for a refused address, the transport's for a
    failure, an HTTP code for a non-2xx answer (redirects are not followed).
    """
    split_url(url)
    ctx = FetchContext(time.monotonic() + limits.deadline)
    adapter = PinnedAdapter(ctx)
    try:
        try:
            prepared = requests.Request(
                "POST", url, data=dict(form), headers={"User-Agent": limits.user_agent}
            ).prepare()
        except (requests.exceptions.RequestException, ValueError, u3.LocationParseError):
            raise FetchError("invalid_url", f"{url!r} is not a valid web address.") from None
        assert prepared.url is not None
        ctx.pin(resolve_allowed(prepared.url, limits, timeout=ctx.remaining()))
        remaining = ctx.remaining()
        if remaining <= 0:
            raise timeout_error(limits)
        try:
            response = adapter.send(
                prepared,
                stream=True,
                timeout=(
                    min(limits.connect_timeout, remaining),
                    min(limits.read_timeout, remaining),
                ),
                proxies={},
            )
        except FetchError:
            raise
        except Exception as exc:  # transport failures map to the fetch's stable codes
            raise map_transport_error(exc, ctx, limits, prepared.url) from None
        try:
            status = response.status_code
            if not 200 <= status < 300:
                raise http_error(status, {k.lower(): v for k, v in response.headers.items()})
            response.raw.read(MAX_HUB_ANSWER)
        finally:
            response.close()
        return status
    finally:
        adapter.close()
        ctx.close()

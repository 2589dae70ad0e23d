"""A feed's icon: found in the feed, on its site's home page or at /favicon.ico, downloaded
through the same guarded downloader as feeds, and kept only when its bytes are a raster image.

Candidates, in order: the icon the feed declares (``ParsedFeed.icon_url``), the icons the
site's home page declares in its <head>, then ``/favicon.ico`` on the site (the feed's own
host when the feed names no site). Every download goes through ``download.download``:
the SSRF guard, the allowed ports, the timeouts, and here a size cap of ``max_bytes``,
with one deadline for the whole search. Before each download the caller's ``admit``
is asked with its host (the job takes a slot of the host's politeness budget
there); a host that is not admitted stops the search with :class:`HostBusy`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

import requests

from .discover import looks_like_html
from .download import download
from .errors import FetchError
from .iconlinks import page_icon_links
from .imagesniff import sniff_image_type
from .models import FetchLimits

#: Downloads one search may make (the home page counts): a site cannot keep a worker
#: busy with a long list of broken icons.
MAX_DOWNLOADS = 4
#: The home page is read only for its <head>; a larger page is not read at all.
MAX_PAGE_BYTES = 1024 * 1024
#: The whole search, all downloads together, in seconds (at most the feed deadline). It
#: holds a worker thread (its own job, after the fetches), so it is kept short: an icon
#: is decoration, and a site whose name or server does not answer in time is looked
#: for again a day later.
DEADLINE = 5.0

#: Asked with a host's name before each download from it; False: the host may not be
#: asked now (over its politeness budget).
Admit = Callable[[str], bool]


@dataclass(frozen=True)
class Icon:
    """An icon found: where from, its sniffed type, its bytes and their SHA-256."""

    url: str
    content_type: str
    body: bytes
    sha256: str


class HostBusy(Exception):
    """A host the search needed was not admitted: nothing is known about the icon yet."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} is over its politeness budget")
        self.host = host


class NoIcon(Exception):
    """No candidate gave an image; ``message`` says what the last one did, for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def favicon_url(site_url: str) -> str | None:
    """``/favicon.ico`` on the host of ``site_url`` (None when it is not http(s))."""
    try:
        parts = urlsplit(site_url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, "/favicon.ico", "", ""))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def check_image(body: bytes, url: str) -> str:
    """The sniffed type of an icon's bytes; raise NoIcon when they are not a raster image."""
    kind = sniff_image_type(body)
    if kind is None:
        raise NoIcon(f"{url} is not a PNG, GIF, JPEG, ICO or WebP image.")
    return kind


class _Search:
    """One icon search: a shared deadline and download budget."""

    def __init__(
        self,
        limits: FetchLimits,
        max_bytes: int,
        session: requests.Session | None,
        admit: Admit | None = None,
    ) -> None:
        deadline = min(limits.deadline, DEADLINE)
        self.limits = replace(limits, deadline=deadline, max_bytes=max_bytes)
        self.page_limits = replace(limits, deadline=deadline, max_bytes=MAX_PAGE_BYTES)
        self.session = session
        self.admit = admit
        self.deadline_at = time.monotonic() + deadline
        self.downloads = 0
        self.tried: set[str] = set()
        self.last_problem = "The feed and its site declare no icon."

    def get(self, url: str, limits: FetchLimits) -> tuple[bytes, dict[str, str], str]:
        if self.admit is not None:
            host = _host(url)
            # A URL without a host fails in download() with a clear error: nothing to admit.
            if host and not self.admit(host):
                raise HostBusy(host)
        self.downloads += 1
        got = download(url, limits, None, self.session, deadline_at=self.deadline_at)
        return got.body or b"", got.headers, got.final_url

    def icon(self, url: str) -> Icon | None:
        if url in self.tried or self.downloads >= MAX_DOWNLOADS:
            return None
        self.tried.add(url)
        try:
            body, _headers, _final = self.get(url, self.limits)
            kind = check_image(body, url)
        except FetchError as error:
            self.last_problem = f"{url}: {error.message}"
            return None
        except NoIcon as error:
            self.last_problem = error.message
            return None
        return Icon(url, kind, body, hashlib.sha256(body).hexdigest())

    def page_links(self, page_url: str) -> list[str]:
        if self.downloads >= MAX_DOWNLOADS:
            return []
        try:
            body, headers, final_url = self.get(page_url, self.page_limits)
        except FetchError as error:
            self.last_problem = f"{page_url}: {error.message}"
            return []
        if not looks_like_html(body, headers):
            return []
        return page_icon_links(body, final_url)


def find_icon(
    declared_url: str | None,
    site_url: str | None,
    feed_url: str,
    limits: FetchLimits,
    *,
    max_bytes: int,
    session: requests.Session | None = None,
    admit: Admit | None = None,
) -> Icon:
    """The first candidate icon that downloads within the caps and is a raster image.

    Raise NoIcon when none is, HostBusy when ``admit`` refused a host the search
    needed. Each download is guarded like a feed's (a private address is refused
    before any connection unless the limits allow it).
    """
    search = _Search(limits, max_bytes, session, admit)
    if declared_url:
        found = search.icon(declared_url)
        if found:
            return found
    site = site_url or feed_url
    if site_url:
        for url in search.page_links(site_url):
            found = search.icon(url)
            if found:
                return found
    fallback = favicon_url(site)
    if fallback:
        found = search.icon(fallback)
        if found:
            return found
    raise NoIcon(search.last_problem)

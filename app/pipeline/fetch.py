"""fetch_feed: download, skip unchanged bodies, parse, and discover feeds behind HTML pages.

Documents are read in a parser process (isolation.py), HTML pages included.
"""

from __future__ import annotations

import time

import requests

from .download import download
from .errors import FetchError
from .isolation import read_bounded
from .models import Download, FeedResult, FetchLimits, PageLinks, ParsedFeed, Validators
from .websub import choose_hub


def _result(
    first: Download,
    last: Download,
    feed: ParsedFeed | None,
    *,
    permanent_url: str | None,
    discovered_url: str | None,
    bytes_downloaded: int,
    start: float,
) -> FeedResult:
    hub = (
        choose_hub(last.headers, feed.hub_urls, feed.self_url, last.final_url)
        if feed is not None
        else None
    )
    return FeedResult(
        status=last.status,
        requested_url=first.requested_url,
        final_url=last.final_url,
        permanent_url=permanent_url,
        discovered_url=discovered_url,
        etag=last.etag,
        last_modified=last.last_modified,
        content_hash=last.content_hash,
        not_modified=last.not_modified,
        feed=feed,
        bytes_downloaded=bytes_downloaded,
        cache_max_age=last.cache_max_age,
        elapsed=time.monotonic() - start,
        hub_url=hub.hub_url if hub else None,
        topic_url=hub.topic_url if hub else None,
    )


def fetch_feed(
    url: str,
    limits: FetchLimits,
    validators: Validators | None = None,
    session: requests.Session | None = None,
) -> FeedResult:
    """Fetch and parse one feed within `limits`; raise FetchError with a stable code on failure.

    When `url` is an HTML page, the first feed it links to is fetched instead (same guard,
    same deadline) and reported as `discovered_url` and `permanent_url`.
    """
    start = time.monotonic()
    deadline_at = start + limits.deadline
    page = download(url, limits, validators, session, deadline_at=deadline_at)
    if page.not_modified or page.body is None:
        return _result(
            page,
            page,
            None,
            permanent_url=page.permanent_url,
            discovered_url=None,
            bytes_downloaded=page.bytes_downloaded,
            start=start,
        )
    feed = read_bounded(page.body, page.headers, page.final_url, limits, deadline_at=deadline_at)
    if isinstance(feed, PageLinks):
        return _discover(page, feed.links, limits, validators, session, deadline_at, start)
    return _result(
        page,
        page,
        feed,
        permanent_url=page.permanent_url,
        discovered_url=None,
        bytes_downloaded=page.bytes_downloaded,
        start=start,
    )


def _discover(
    page: Download,
    links: list[str],
    limits: FetchLimits,
    validators: Validators | None,
    session: requests.Session | None,
    deadline_at: float,
    start: float,
) -> FeedResult:
    """Follow the first feed link of an HTML page (one level only: no discovery chains)."""
    if not links:
        raise FetchError(
            "not_a_feed",
            f"{page.final_url} is a web page, not a feed, and it links to no RSS, Atom or "
            "JSON feed. Look for a feed link on the site and submit that address.",
        )
    link = links[0]
    # ETag/Last-Modified belong to the page, not the feed; the body hash still applies.
    only_hash = Validators(content_hash=validators.content_hash) if validators else None
    found = download(link, limits, only_hash, session, deadline_at=deadline_at)
    total = page.bytes_downloaded + found.bytes_downloaded
    permanent = found.permanent_url or link
    if found.not_modified or found.body is None:
        return _result(
            page,
            found,
            None,
            permanent_url=permanent,
            discovered_url=link,
            bytes_downloaded=total,
            start=start,
        )
    try:
        feed = read_bounded(
            found.body,
            found.headers,
            found.final_url,
            limits,
            discover=False,
            deadline_at=deadline_at,
        )
    except FetchError as error:
        raise FetchError(
            error.code,
            f"The page links to {link}, but that is not a readable feed: {error.message}",
            transient=error.transient,
        ) from None
    return _result(
        page,
        found,
        feed,
        permanent_url=permanent,
        discovered_url=link,
        bytes_downloaded=total,
        start=start,
    )

"""Plain data types shared by the fetch pipeline: limits, validators and results.

Nothing here does I/O; the types are what the job code passes in and gets back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FetchLimits:
    """Bounds and policy for one fetch (built by the app's config from FETCH_* settings)."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 30.0  # overall wall-clock per fetch, incl. redirects + body
    max_bytes: int = 10 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    user_agent: str = "feedqueue/1.0 (+https://github.com/feedqueue/feedqueue)"
    allow_private_networks: bool = False
    allowed_hosts: frozenset[str] = frozenset()  # lowercase host names exempt from the guard
    max_items: int = 500  # per-feed item cap (newest kept)


@dataclass(frozen=True)
class Validators:
    """What we remember from the last successful fetch of a feed."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


@dataclass
class ParsedItem:
    """One normalised feed entry, ready to be upserted by `key`."""

    key: str
    guid: str | None
    url: str | None
    title: str | None
    author: str | None
    summary_html: str | None
    content_html: str | None
    published_at: datetime | None
    updated_at: datetime | None
    content_hash: str


@dataclass
class ParsedFeed:
    """A parsed document: feed metadata plus at most `max_items` items, newest first."""

    title: str | None
    site_url: str | None
    ttl_seconds: int | None
    warning: str | None
    format: str
    items: list[ParsedItem] = field(default_factory=list)


@dataclass
class Download:
    """The outcome of the HTTP part of a fetch (see `download.download`)."""

    status: int
    requested_url: str
    final_url: str
    permanent_url: str | None
    headers: dict[str, str]  # final response headers, lowercase names
    body: bytes | None  # None on 304
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    not_modified: bool
    bytes_downloaded: int
    cache_max_age: int | None
    elapsed: float


@dataclass
class FeedResult:
    """What `fetch_feed` hands back to the job code."""

    status: int
    requested_url: str
    final_url: str
    permanent_url: str | None
    discovered_url: str | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    not_modified: bool
    feed: ParsedFeed | None
    bytes_downloaded: int
    cache_max_age: int | None
    elapsed: float

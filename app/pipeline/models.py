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
    # Ports a fetch may connect to, as inclusive (first, last) ranges: by default the
    # web's and the unprivileged ones, so no fetch can probe mail, SSH or database ports.
    allowed_ports: tuple[tuple[int, int], ...] = ((80, 80), (443, 443), (1024, 65535))
    max_items: int = 500  # per-feed item cap (newest kept)
    max_items_read: int = 2000  # items of one document read; the rest is never parsed
    # Caps on the document itself, checked by a streaming scan before the feed parser
    # builds anything (see scan.py); all counted after decoding to UTF-8.
    max_elements: int = 200_000
    max_depth: int = 100
    max_attribute_bytes: int = 64 * 1024  # names and values of one element's attributes
    max_field_bytes: int = 512 * 1024  # one field in the document, and one stored HTML value
    max_stored_bytes: int = 16 * 1024 * 1024  # all items of one fetch together, as stored
    # The parser processes that read downloaded documents (see isolation.py); 0 parses
    # in the calling process, without the memory and CPU bounds.
    parser_processes: int = 1
    parser_memory_mb: int = 256  # address space of a parser process
    parser_cpu_seconds: float = 10.0  # CPU per document; killed at three times as long


@dataclass(frozen=True)
class Validators:
    """What we remember from the last successful fetch of a feed."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True)
class Enclosure:
    """A file an item carries (a podcast episode, a video): where it is, its type, its size.

    ``url`` is an absolute http(s) URL; ``type`` a lower-case MIME type or None;
    ``length`` the size in bytes the feed declares, or None when it gave none that is
    believable (see enclosures.py).
    """

    url: str
    type: str | None
    length: int | None


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
    enclosures: list[Enclosure] = field(default_factory=list)


@dataclass
class ParsedFeed:
    """A parsed document: feed metadata plus at most `max_items` items, newest first."""

    title: str | None
    site_url: str | None
    ttl_seconds: int | None
    warning: str | None
    format: str
    items: list[ParsedItem] = field(default_factory=list)
    #: The icon the feed declares (RSS <image>, Atom <icon>/<logo>, JSON Feed favicon/icon).
    icon_url: str | None = None
    # WebSub: the hubs and self URL the document names (websub.py picks one).
    hub_urls: list[str] = field(default_factory=list)
    self_url: str | None = None


@dataclass
class PageLinks:
    """An HTML page instead of a feed, with the feed links it carries (maybe none)."""

    links: list[str]


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
    # WebSub hub and topic, from the Link headers or the document (None: no hub named).
    hub_url: str | None = None
    topic_url: str | None = None

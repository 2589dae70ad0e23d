"""The fetch pipeline: safe download -> parse/normalise -> result. No Flask, no database.

The job code calls `fetch_feed`; the web layer may call `literal_host_blocked` to refuse
obviously local addresses at submission time.
"""

from __future__ import annotations

from .addresses import is_blocked_ip, literal_host_blocked
from .discover import discover_feed_links
from .download import download
from .errors import FetchError
from .fetch import fetch_feed
from .guard import check_url_allowed
from .isolation import read_bounded
from .models import (
    Download,
    FeedResult,
    FetchLimits,
    PageLinks,
    ParsedFeed,
    ParsedItem,
    Validators,
)
from .parse import parse_feed, read_document
from .parser_pool import ParserPool
from .sanitize import sanitize_html

__all__ = [
    "Download",
    "FeedResult",
    "FetchError",
    "FetchLimits",
    "PageLinks",
    "ParsedFeed",
    "ParserPool",
    "ParsedItem",
    "Validators",
    "check_url_allowed",
    "discover_feed_links",
    "download",
    "fetch_feed",
    "is_blocked_ip",
    "literal_host_blocked",
    "parse_feed",
    "read_bounded",
    "read_document",
    "sanitize_html",
]

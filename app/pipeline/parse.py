"""Parse downloaded bytes into a ParsedFeed: RSS/Atom via feedparser, JSON Feed via jsonfeed.

feedparser only ever sees the bytes (wrapped in a stream) and our headers: never a URL,
so it does no HTTP of its own, and never bare bytes, which it would try to open as a
local file name first.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from typing import Any

import feedparser

from .discover import looks_like_html
from .errors import FetchError
from .items import absolute_http_url, finalize_items, make_item, struct_to_utc
from .jsonfeed import looks_like_json_feed, parse_json_feed
from .models import ParsedFeed, ParsedItem
from .sanitize import sanitize_html, to_plain_text
from .xmlsafety import check_xml_safety

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")


def _is_html_type(detail: Any) -> bool:
    kind = (detail or {}).get("type", "text/html") if hasattr(detail, "get") else "text/html"
    return kind in HTML_CONTENT_TYPES


def _html_of(value: str | None, detail: Any, base_url: str) -> str | None:
    """Sanitised HTML from a feedparser value, escaping it first when it is plain text."""
    if not value:
        return None
    markup = value if _is_html_type(detail) else html.escape(value)
    return sanitize_html(markup, base_url) or None


def _content(entry: Any, base_url: str) -> str | None:
    parts = entry.get("content") or []
    html_parts = [p for p in parts if _is_html_type(p)]
    chosen = html_parts[0] if html_parts else (parts[0] if parts else None)
    if not chosen:
        return None
    return _html_of(chosen.get("value"), chosen, base_url)


def _entry_item(entry: Any, base_url: str) -> ParsedItem:
    title_detail = entry.get("title_detail")
    summary = _html_of(entry.get("summary"), entry.get("summary_detail"), base_url)
    content = _content(entry, base_url)
    return make_item(
        guid=entry.get("id") if isinstance(entry.get("id"), str) else None,
        url=absolute_http_url(entry.get("link"), base_url),
        title=to_plain_text(entry.get("title"), is_html=_is_html_type(title_detail)),
        author=to_plain_text(entry.get("author"), max_length=500),
        # feedparser copies content into summary when there is none: keep one copy.
        summary_html=None if summary == content else summary,
        content_html=content,
        # dict.get bypasses feedparser's alias that answers "updated" with the published date.
        published_at=struct_to_utc(dict.get(entry, "published_parsed")),
        updated_at=struct_to_utc(dict.get(entry, "updated_parsed")),
    )


def _ttl_seconds(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if 0 < minutes <= 60 * 24 * 365 else None


def _benign(exc: Any) -> bool:
    """Bozo reasons that do not mean broken XML (a mislabelled type or charset)."""
    return isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType)


def _describe(exc: Any) -> str:
    text = str(exc).splitlines()[0] if exc is not None and str(exc) else "syntax error"
    return text[:200]


def parse_feed(
    body: bytes, headers: Mapping[str, str], base_url: str, max_items: int = 500
) -> ParsedFeed:
    """Parse a feed document; raise FetchError("parse_error" | "not_a_feed").

    `headers` are the response headers (any case); `base_url` resolves relative links.
    """
    headers = {k.lower(): v for k, v in headers.items()}
    if not body.strip():
        raise FetchError("parse_error", "The server sent an empty document instead of a feed.")
    if looks_like_json_feed(body, headers):
        return parse_json_feed(body, headers, base_url, max_items)
    check_xml_safety(body)
    result = feedparser.parse(
        io.BytesIO(body),
        # No Content-Location on purpose: feedparser would resolve a relative <guid> such as
        # "42" against the document URL, and keys would change whenever a feed moves.
        # xml:base is still honoured; the rest is resolved against base_url below.
        response_headers={"content-type": headers.get("content-type", "application/xml")},
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    entries = result.get("entries") or []
    version = result.get("version") or ""
    bozo = bool(result.get("bozo"))
    if not entries and bozo and version and not _benign(result.get("bozo_exception")):
        # A feed that starts well but breaks before its first item: nothing usable.
        raise FetchError(
            "parse_error", f"The feed cannot be read: {_describe(result.get('bozo_exception'))}."
        )
    if not entries and not version:
        if looks_like_html(body, headers):
            raise FetchError(
                "not_a_feed",
                "The document is a web page (HTML), not a feed.",
            )
        if bozo:
            raise FetchError(
                "parse_error",
                f"The feed cannot be read: {_describe(result.get('bozo_exception'))}.",
            )
        raise FetchError(
            "not_a_feed", "The document is not an RSS, Atom or JSON feed: check the address."
        )
    warning = None
    if bozo:
        warning = (
            f"The feed has errors ({_describe(result.get('bozo_exception'))}); "
            f"{len(entries)} items could still be read."
        )
    channel = result.get("feed") or {}
    items = [_entry_item(entry, base_url) for entry in entries]
    return ParsedFeed(
        title=to_plain_text(
            channel.get("title"), is_html=_is_html_type(channel.get("title_detail"))
        ),
        site_url=absolute_http_url(channel.get("link"), base_url),
        ttl_seconds=_ttl_seconds(channel.get("ttl")),
        warning=warning,
        format=version or "unknown",
        items=finalize_items(items, max_items),
    )

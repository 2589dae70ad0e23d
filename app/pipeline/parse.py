"""Parse downloaded bytes into a ParsedFeed: RSS/Atom via feedparser, JSON Feed via jsonfeed.

feedparser only ever sees the bytes (wrapped in a stream) and our headers: never a URL,
so it does no HTTP of its own, and never bare bytes, which it would try to open as a
local file name first.

Before feedparser, an XML document is converted to UTF-8 as feedparser would read it
(charset.py), its DTD checked (xmlsafety.py) and the document scanned and trimmed to
the caps (scan.py); the items built are capped again (caps.py). This runs in a parser
process with memory and CPU limits (isolation.py), which bound whatever the checks miss.

feedparser's own HTML passes (sanitiser, relative-URI resolver) are off: both re-parse
every content value in pure Python, and sanitize.py, which runs on every value anyway,
does both jobs with our allow-list. Each value's xml:base, which feedparser still tracks
(detail["base"]), is handed to it as the base for relative URLs.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import feedparser

from .caps import HtmlCap, keep_within, notes
from .charset import UTF8_XML, to_utf8
from .discover import discover_feed_links, looks_like_html
from .enclosures import entry_enclosures
from .errors import FetchError
from .items import absolute_http_url, finalize_items, make_item, struct_to_utc
from .jsonfeed import looks_like_json_feed, parse_json_feed
from .models import FetchLimits, PageLinks, ParsedFeed, ParsedItem
from .sanitize import http_base, sanitize_html, to_plain_text
from .scan import scan_xml
from .websub import document_links
from .xmlsafety import check_xml_safety

# Expat with buffered text, not libxml2's driver, which feedparser would try first
# (see expat_reader.py).
feedparser.api.PREFERRED_XML_PARSERS[:] = ["app.pipeline.expat_reader"]


class _FlatCopy:
    """Stands in for the ``copy`` module inside feedparser's mixin.

    feedparser deep-copies a small dict of strings and booleans (type, language,
    base, ...) for every title, summary and content value it parses: a tenth of
    its time on a typical feed. Its values cannot change in place, so a flat copy
    is the same copy (tests/pipeline/test_parse_formats.py compares both).
    """

    @staticmethod
    def deepcopy(value: dict[str, Any]) -> dict[str, Any]:
        return type(value)(value)


feedparser.mixin.copy = _FlatCopy  # type: ignore[attr-defined]

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
DEFAULT_LIMITS = FetchLimits()
# feedparser writes XHTML void elements out as "<br></br>"; an HTML parser reads "</br>"
# as a second <br>, so these end tags go. (Text and attribute values arrive escaped: the
# pattern only meets real tags.)
_VOID_END_TAG = re.compile(
    r"</(?:area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr)\s*>",
    re.IGNORECASE,
)


# Entries and details are FeedParserDicts, whose .get() first looks the key up in a table
# of legacy aliases; none of the keys read here has one, so dict.get gives the same answer
# for a fraction of the cost (a dozen lookups per entry).
_get = dict.get


def _is_html_type(detail: Any) -> bool:
    kind = _get(detail, "type", "text/html") if isinstance(detail, dict) else "text/html"
    return kind in HTML_CONTENT_TYPES


def _base_of(detail: Any, base_url: str) -> str:
    """Base for relative URLs in a value: its xml:base when that is http(s), else base_url.

    feedparser leaves an xml:base relative when the document URL is unknown to it (it is
    never given one), so the declared base is itself resolved against base_url first.
    """
    declared = _get(detail, "base") if isinstance(detail, dict) else None
    if not declared or not isinstance(declared, str):
        return base_url
    try:
        resolved = urljoin(base_url, declared.strip())
    except ValueError:
        return base_url
    return http_base(resolved) or base_url


def _html_of(value: str | None, detail: Any, base_url: str) -> str | None:
    """Sanitised HTML from a feedparser value, escaping it first when it is plain text."""
    if not value:
        return None
    if not _is_html_type(detail):
        markup = html.escape(value)
    elif isinstance(detail, dict) and _get(detail, "type") == "application/xhtml+xml":
        markup = _VOID_END_TAG.sub("", value)
    else:
        markup = value
    return sanitize_html(markup, _base_of(detail, base_url)) or None


def _chosen_content(parts: list[Any]) -> Any:
    html_parts = [p for p in parts if _is_html_type(p)]
    return html_parts[0] if html_parts else (parts[0] if parts else None)


def _same_source(detail: Any, other: Any) -> bool:
    """True when two details sanitise a value the same way (same kind, same base)."""
    if not isinstance(detail, dict) or not isinstance(other, dict):
        return False
    same_kind = _is_html_type(detail) == _is_html_type(other)
    return same_kind and _get(detail, "base") == _get(other, "base")


def _entry_item(entry: Any, base_url: str, cap: HtmlCap) -> ParsedItem:
    parts = _get(entry, "content") or []
    chosen = _chosen_content(parts)
    summary_value = _get(entry, "summary")
    summary_detail = _get(entry, "summary_detail")
    if summary_detail is None and summary_value:
        # feedparser copies an entry's first content into summary, without a detail:
        # the copy takes that content's base, as it did when feedparser resolved URLs.
        copied = next((p for p in parts if _get(p, "value") == summary_value), None)
        if copied is not None and _is_html_type(copied):
            summary_detail = copied
    summary = _html_of(summary_value, summary_detail, base_url)
    if not chosen:
        content = None
    elif (
        summary_value
        and _get(chosen, "value") == summary_value
        and _same_source(chosen, summary_detail)
    ):
        content = summary  # same value, same cleaning: done once
    else:
        content = _html_of(_get(chosen, "value"), chosen, base_url)
    guid = _get(entry, "id")
    return make_item(
        guid=guid if isinstance(guid, str) else None,
        url=absolute_http_url(_get(entry, "link"), base_url),
        title=to_plain_text(
            _get(entry, "title"), is_html=_is_html_type(_get(entry, "title_detail"))
        ),
        author=to_plain_text(_get(entry, "author"), max_length=500),
        # feedparser copies content into summary when there is none: keep one copy.
        summary_html=None if summary == content else cap(summary),
        content_html=cap(content),
        # Not entry.get: its alias answers "updated" with the published date.
        published_at=struct_to_utc(_get(entry, "published_parsed")),
        updated_at=struct_to_utc(_get(entry, "updated_parsed")),
        enclosures=entry_enclosures(entry, base_url),
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
    body: bytes,
    headers: Mapping[str, str],
    base_url: str,
    limits: FetchLimits = DEFAULT_LIMITS,
) -> ParsedFeed:
    """Parse a feed document within `limits`; raise FetchError("parse_error" |
    "not_a_feed" | "parse_limit").

    `headers` are the response headers (any case); `base_url` resolves relative links.
    """
    headers = {k.lower(): v for k, v in headers.items()}
    if not body.strip():
        raise FetchError("parse_error", "The server sent an empty document instead of a feed.")
    if looks_like_json_feed(body, headers):
        return parse_json_feed(body, headers, base_url, limits)
    document = to_utf8(body, headers)
    check_xml_safety(document.data)
    scanned = scan_xml(document.data, limits)
    result = feedparser.parse(
        io.BytesIO(scanned.data),
        # The bytes are UTF-8 now, whatever the server said. No Content-Location on
        # purpose: feedparser would resolve a relative <guid> such as "42" against the
        # document URL, and keys would change whenever a feed moves. xml:base is still
        # honoured; the rest is resolved against base_url below.
        response_headers={"content-type": UTF8_XML},
        # Both passes are done by sanitize_html (see the module docstring).
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    entries = result.get("entries") or []
    version = result.get("version") or ""
    # A broken document's error wins over the charset or type note, as in feedparser.
    problem = result.get("bozo_exception") if result.get("bozo") else document.problem
    bozo = problem is not None
    if not entries and bozo and version and not _benign(problem):
        # A feed that starts well but breaks before its first item: nothing usable.
        raise FetchError("parse_error", f"The feed cannot be read: {_describe(problem)}.")
    if not entries and not version:
        if looks_like_html(body, headers):
            raise FetchError(
                "not_a_feed",
                "The document is a web page (HTML), not a feed.",
            )
        if bozo:
            raise FetchError("parse_error", f"The feed cannot be read: {_describe(problem)}.")
        raise FetchError(
            "not_a_feed", "The document is not an RSS, Atom or JSON feed: check the address."
        )
    said: list[str] = []
    if bozo:
        said.append(
            f"The feed has errors ({_describe(problem)}); {len(entries)} items could still be read."
        )
    channel = result.get("feed") or {}
    hub_urls, self_url = document_links(channel.get("links") or [], base_url)
    cap = HtmlCap(limits.max_field_bytes)
    items, over_budget = keep_within(
        finalize_items([_entry_item(entry, base_url, cap) for entry in entries], limits.max_items),
        limits.max_stored_bytes,
    )
    said += notes(
        items_read=limits.max_items_read if scanned.items_cut else None,
        fields_emptied=scanned.fields_emptied,
        max_field_bytes=limits.max_field_bytes,
        values_cut=cap.cut,
        items_over_budget=over_budget,
        max_stored_bytes=limits.max_stored_bytes,
    )
    return ParsedFeed(
        title=to_plain_text(
            channel.get("title"), is_html=_is_html_type(channel.get("title_detail"))
        ),
        site_url=absolute_http_url(channel.get("link"), base_url),
        ttl_seconds=_ttl_seconds(channel.get("ttl")),
        warning=" ".join(said) or None,
        format=version or "unknown",
        items=items,
        icon_url=_icon_url(channel, base_url),
        hub_urls=hub_urls,
        self_url=self_url,
    )


def _icon_url(channel: Any, base_url: str) -> str | None:
    """The feed's own icon: Atom <icon> (small, square), else Atom <logo>, else RSS <image>."""
    image = channel.get("image")
    candidates = [
        channel.get("icon"),
        channel.get("logo"),
        image.get("href") if isinstance(image, dict) else None,
    ]
    for candidate in candidates:
        url = absolute_http_url(candidate if isinstance(candidate, str) else None, base_url)
        if url:
            return url
    return None


def read_document(
    body: bytes,
    headers: Mapping[str, str],
    base_url: str,
    limits: FetchLimits = DEFAULT_LIMITS,
    *,
    discover: bool = True,
) -> ParsedFeed | PageLinks:
    """The feed in a downloaded document or, with `discover`, the feed links of an HTML page.

    Raises FetchError as parse_feed does (also for an HTML page when not `discover`).
    """
    try:
        return parse_feed(body, headers, base_url, limits)
    except FetchError as error:
        # A big web page can pass the XML scan's element cap: still a page to look into.
        if not discover or error.code not in ("not_a_feed", "parse_error", "parse_limit"):
            raise
        if not looks_like_html(body, {k.lower(): v for k, v in headers.items()}):
            raise
        return PageLinks(discover_feed_links(body, base_url))

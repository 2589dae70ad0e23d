"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org), which feedparser does not read."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .caps import HtmlCap, keep_within, notes
from .enclosures import enclosure_of, unique_enclosures
from .errors import FetchError
from .items import absolute_http_url, finalize_items, make_item, to_utc
from .models import Enclosure, FetchLimits, ParsedFeed, ParsedItem
from .sanitize import sanitize_html, to_plain_text
from .websub import document_links

VERSION_PREFIX = "https://jsonfeed.org/version/"
JSON_TYPES = ("application/feed+json", "application/json")


def _declared_json(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").lower().split(";", 1)[0].strip()
    return content_type in JSON_TYPES or content_type.endswith("+json")


def looks_like_json_feed(body: bytes, headers: Mapping[str, str]) -> bool:
    """True when the body should be read as JSON: a JSON content type, or it starts with "{"."""
    return _declared_json(headers) or body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return to_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def _author(entry: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    authors = entry.get("authors")
    if not isinstance(authors, list):
        authors = [entry.get("author")] if isinstance(entry.get("author"), dict) else []
    if not authors:
        fallback = feed.get("authors") or (
            [feed["author"]] if isinstance(feed.get("author"), dict) else []
        )
        authors = fallback if isinstance(fallback, list) else []
    names = [
        to_plain_text(_text(a.get("name")), max_length=200) for a in authors if isinstance(a, dict)
    ]
    joined = ", ".join(n for n in names if n)
    return joined[:500] or None


def _item(
    entry: Mapping[str, Any], feed: Mapping[str, Any], base_url: str, cap: HtmlCap
) -> ParsedItem:
    raw_id = entry.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    url = absolute_http_url(_text(entry.get("url")), base_url) or absolute_http_url(
        _text(entry.get("external_url")), base_url
    )
    content = _text(entry.get("content_html"))
    if content is None and _text(entry.get("content_text")):
        content = "<p>" + html.escape(entry["content_text"]).replace("\n", "<br>") + "</p>"
    summary = _text(entry.get("summary"))
    return make_item(
        guid=guid,
        url=url,
        title=to_plain_text(_text(entry.get("title"))),
        author=_author(entry, feed),
        summary_html=cap(sanitize_html(html.escape(summary), base_url)) if summary else None,
        content_html=cap(sanitize_html(content, base_url) or None) if content else None,
        published_at=_date(entry.get("date_published")),
        updated_at=_date(entry.get("date_modified")),
        enclosures=_attachments(entry, base_url),
    )


def _attachments(entry: Mapping[str, Any], base_url: str) -> list[Enclosure]:
    """JSON Feed ``attachments``: url, mime_type, size_in_bytes."""
    attachments = entry.get("attachments")
    if not isinstance(attachments, list):
        return []
    return unique_enclosures(
        enclosure_of(a.get("url"), a.get("mime_type"), a.get("size_in_bytes"), base_url)
        for a in attachments[:64]
        if isinstance(a, dict)
    )


def parse_json_feed(
    body: bytes, headers: Mapping[str, str], base_url: str, limits: FetchLimits
) -> ParsedFeed:
    """Parse a JSON Feed; raise FetchError("parse_error" | "not_a_feed").

    Only the first `limits.max_items_read` entries are read, and the caps of caps.py apply.
    JSON has no streaming parser in the standard library: the parser process's memory
    limit bounds what decoding a hostile document costs.
    """
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchError(
            "parse_error", "The server sent JSON that cannot be read (it is not valid JSON)."
        ) from None
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise FetchError(
            "not_a_feed", "The address returns JSON, but not a JSON Feed: check the address."
        )
    number = version[len(VERSION_PREFIX) :].strip("/")
    entries = document.get("items")
    entries = (
        [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
    )
    cap = HtmlCap(limits.max_field_bytes)
    items, over_budget = keep_within(
        finalize_items(
            [_item(entry, document, base_url, cap) for entry in entries[: limits.max_items_read]],
            limits.max_items,
        ),
        limits.max_stored_bytes,
    )
    said = [] if isinstance(document.get("items"), list) else ["The JSON Feed has no item list."]
    said += notes(
        items_read=limits.max_items_read if len(entries) > limits.max_items_read else None,
        max_field_bytes=limits.max_field_bytes,
        values_cut=cap.cut,
        items_over_budget=over_budget,
        max_stored_bytes=limits.max_stored_bytes,
    )
    return ParsedFeed(
        title=to_plain_text(_text(document.get("title"))),
        site_url=absolute_http_url(_text(document.get("home_page_url")), base_url),
        ttl_seconds=None,
        warning=" ".join(said) or None,
        format="json" + number.replace(".", "") + ("0" if "." not in number else ""),
        items=items,
        # favicon is the small one meant for lists; icon is 512 pixels wide.
        icon_url=absolute_http_url(_text(document.get("favicon")), base_url)
        or absolute_http_url(_text(document.get("icon")), base_url),
        **_websub(document, base_url),
    )


def _websub(document: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """JSON Feed's ``hubs`` (WebSub ones) and ``feed_url`` as ParsedFeed's hub fields."""
    hubs = document.get("hubs")
    links = [
        {"rel": "hub", "href": hub.get("url")}
        for hub in (hubs if isinstance(hubs, list) else [])
        if isinstance(hub, dict) and str(hub.get("type", "")).lower() in ("websub", "")
    ]
    links.append({"rel": "self", "href": document.get("feed_url")})
    hub_urls, self_url = document_links(links, base_url)
    return {"hub_urls": hub_urls, "self_url": self_url}

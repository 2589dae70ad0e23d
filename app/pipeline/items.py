"""Item normalisation shared by the XML and JSON parsers: keys, hashes, dates, order, cap."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from .models import Enclosure, ParsedItem

MAX_KEY_PART = 500  # longer guids/links are hashed: the key must fit a Postgres btree index
# Longer URLs are dropped (no browser or server keeps them), longer guids stored cut
# (the key still hashes the whole guid).
MAX_URL_LENGTH = 2048
MAX_GUID_LENGTH = 2048
# What json.dumps(fields, sort_keys=True, ensure_ascii=False) builds on every call.
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def absolute_http_url(value: str | None, base_url: str | None) -> str | None:
    """`value` resolved against `base_url`, kept only when it is an http(s) URL.

    URLs longer than MAX_URL_LENGTH, before or after resolution, are dropped.
    """
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) > MAX_URL_LENGTH:
        return None
    try:
        url = urljoin(base_url, value) if base_url else value
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url if len(url) <= MAX_URL_LENGTH else None


def struct_to_utc(value: time.struct_time | None) -> datetime | None:
    """A feedparser *_parsed value (already UTC) as a tz-aware datetime."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def to_utc(value: datetime | None) -> datetime | None:
    """Any datetime as tz-aware UTC (naive values are taken to be UTC already)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _key_part(prefix: str, value: str) -> str:
    if len(value) > MAX_KEY_PART:
        return f"{prefix}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"
    return f"{prefix}:{value}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def make_item(
    *,
    guid: str | None,
    url: str | None,
    title: str | None,
    author: str | None,
    summary_html: str | None,
    content_html: str | None,
    published_at: datetime | None,
    updated_at: datetime | None,
    enclosures: list[Enclosure] | None = None,
) -> ParsedItem:
    """Build a ParsedItem with its stable key and content hash from normalised fields."""
    guid = guid.strip() if guid and guid.strip() else None
    if guid:
        key = _key_part("guid", guid)
    elif url:
        key = _key_part("link", urldefrag(url)[0] or url)
    else:
        basis = "\x1f".join(
            [
                title or "",
                _iso(published_at or updated_at) or "",
                content_html or summary_html or "",
            ]
        )
        key = "hash:" + hashlib.sha256(basis.encode()).hexdigest()
    fields = {
        "title": title,
        "url": url,
        "author": author,
        "summary": summary_html,
        "content": content_html,
        "published": _iso(published_at),
        "updated": _iso(updated_at),
    }
    if enclosures:
        # Only when there are some: the hash of every item without enclosures stays as
        # it was, so no stored item counts as changed because this field was added.
        fields["enclosures"] = [[e.url, e.type, e.length] for e in enclosures]
    content_hash = hashlib.sha256(_HASH_ENCODER.encode(fields).encode()).hexdigest()
    return ParsedItem(
        key=key,
        guid=guid[:MAX_GUID_LENGTH] if guid else None,
        url=url,
        title=title,
        author=author,
        summary_html=summary_html,
        content_html=content_html,
        published_at=published_at,
        updated_at=updated_at,
        content_hash=content_hash,
        enclosures=list(enclosures or []),
    )


def finalize_items(items: list[ParsedItem], max_items: int) -> list[ParsedItem]:
    """Drop repeated keys (first wins), order newest first, keep at most `max_items`.

    Items are ordered by published (else updated) time; undated items follow the dated
    ones in document order, since feeds usually list newest first.
    """
    seen: set[str] = set()
    unique: list[ParsedItem] = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            unique.append(item)
    dated = [i for i in unique if (i.published_at or i.updated_at)]
    undated = [i for i in unique if not (i.published_at or i.updated_at)]
    dated.sort(key=lambda i: i.published_at or i.updated_at, reverse=True)  # type: ignore[arg-type, return-value]
    return (dated + undated)[: max(max_items, 0)]

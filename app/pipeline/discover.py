"""Feed discovery in HTML pages: <link rel="alternate" type="application/rss+xml" href=...>.

Uses the standard library's tolerant HTML parser, never regular expressions over markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
)
HTML_TYPES = ("text/html", "application/xhtml+xml")


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[int, str]] = []  # (preference, href)
        self.base_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and self.base_href is None and values.get("href"):
            self.base_href = values["href"].strip()
            return
        if tag != "link" or not values.get("href"):
            return
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";", 1)[0].strip()
        if "alternate" in rels and kind in FEED_TYPES:
            self.links.append((FEED_TYPES.index(kind), values["href"].strip()))
        elif "feed" in rels and (not kind or kind in FEED_TYPES or kind in HTML_TYPES):
            self.links.append((len(FEED_TYPES), values["href"].strip()))

    handle_startendtag = handle_starttag


def discover_feed_links(body: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds an HTML page links to, in document order, no duplicates.

    Honours <base href>. Plain JSON alternates come after RSS/Atom/JSON Feed ones, since
    "application/json" often names an API rather than a feed.
    """
    parser = _LinkCollector()
    try:
        parser.feed(_decode_html(body))
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is tolerant, but never let markup crash a fetch
        pass
    base = urljoin(base_url, parser.base_href) if parser.base_href else base_url
    ordered = sorted(
        enumerate(parser.links),
        key=lambda item: (item[1][0] == FEED_TYPES.index("application/json"), item[0]),
    )
    found: list[str] = []
    for _position, (_preference, href) in ordered:
        url = urldefrag(urljoin(base, href))[0]
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found


def _decode_html(body: bytes) -> str:
    # Link tags are ASCII; a wrong guess only garbles non-ASCII text we do not use.
    match = re.search(rb"charset=[\"']?([A-Za-z0-9_\-]+)", body[:4096])
    for encoding in ([match.group(1).decode("ascii")] if match else []) + ["utf-8"]:
        try:
            return body.decode(encoding, errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


def looks_like_html(body: bytes, headers: Mapping[str, str]) -> bool:
    """True when the document is an HTML page rather than a feed (by type, else by its start)."""
    content_type = headers.get("content-type", "").lower().split(";", 1)[0].strip()
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if content_type in HTML_TYPES and not re.match(rb"<\?xml[^>]*>\s*<(rss|feed|rdf)", head):
        return True
    head = re.sub(rb"^(<!--.*?-->\s*)+", b"", head, flags=re.S)
    return head.startswith((b"<!doctype html", b"<html")) or bool(
        re.match(rb"<\?xml[^>]*>\s*(<!doctype html|<html)", head)
    )

"""The icons a site's home page declares: <link rel="icon" href=...> and its kin.

Only the page's <head> is read (icons are declared there), with the standard library's
tolerant HTML parser. SVG icons are skipped: they are never stored (imagesniff.py).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from .discover import _decode_html

#: Bytes of a page read for its <head>; icons declared later are not looked for.
MAX_HEAD_BYTES = 256 * 1024
# rel values, most wanted first: the small favicon before the big touch icon.
_RELS = ("icon", "shortcut icon", "apple-touch-icon", "apple-touch-icon-precomposed")
_BODY = re.compile(rb"<body[\s>]", re.IGNORECASE)


class _IconCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[int, str]] = []
        self.base_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "").strip() for k, v in attrs}
        if tag == "base" and self.base_href is None and values.get("href"):
            self.base_href = values["href"]
            return
        if tag != "link" or not values.get("href"):
            return
        rel = " ".join(values.get("rel", "").lower().split())
        kind = values.get("type", "").lower()
        if rel not in _RELS or "svg" in kind or values.get("mask") is not None:
            return
        if urlsplit(values["href"]).path.lower().endswith(".svg"):
            return
        self.links.append((_RELS.index(rel) // 2, values["href"]))

    handle_startendtag = handle_starttag


def page_icon_links(body: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the icons a page's <head> declares, best first, no repeats."""
    head = body[:MAX_HEAD_BYTES]
    match = _BODY.search(head)
    if match:
        head = head[: match.start()]
    parser = _IconCollector()
    try:
        parser.feed(_decode_html(head))
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is tolerant; markup never fails an icon
        pass
    base = urljoin(base_url, parser.base_href) if parser.base_href else base_url
    found: list[str] = []
    for _rank, href in sorted(parser.links, key=lambda link: link[0]):  # stable: document order
        try:
            url = urldefrag(urljoin(base, href))[0]
        except ValueError:
            continue
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found

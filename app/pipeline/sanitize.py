"""HTML sanitisation (nh3) and HTML-to-text for titles and names.

feedparser already sanitises entry HTML; this second pass, with an explicit allow-list,
is what the app relies on, because feed HTML ends up inside our own pages.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import nh3

TAGS = frozenset(nh3.ALLOWED_TAGS) - {
    "map",
    "area",
    "nav",
    "header",
    "footer",
    "details",
    "summary",
}
# Removed with everything inside them; the rest of the disallowed tags are unwrapped.
DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "select",
        "textarea",
        "noembed",
        "noframes",
        "title",
        "head",
    }
)
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "headers", "align"},
    "th": {"colspan", "rowspan", "headers", "scope", "align"},
    "col": {"span"},
    "colgroup": {"span"},
    "abbr": {"title"},
}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
MEDIA_SCHEMES = frozenset({"http", "https"})
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
LINK_REL = "noopener noreferrer nofollow"
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def _url_filter(base_url: str | None):  # noqa: ANN202 - nh3 callback
    def check(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in URL_ATTRIBUTES:
            return value
        # Browsers ignore control characters and whitespace inside schemes ("java\tscript:").
        compact = re.sub(r"[\x00-\x20\x7f]+", "", value)
        match = _SCHEME.match(compact)
        allowed = MEDIA_SCHEMES if tag == "img" else LINK_SCHEMES
        if match:
            return value.strip() if match.group(1).lower() in allowed else None
        if compact.startswith("//") and base_url:
            absolute = urljoin(base_url, compact)
            return absolute if urlsplit(absolute).scheme in allowed else None
        if base_url is None:
            return value
        absolute = urljoin(base_url, value.strip())
        return absolute if urlsplit(absolute).scheme in allowed else None

    return check


def sanitize_html(html_text: str, base_url: str | None = None) -> str:
    """Clean untrusted HTML: safe tags only, http(s)/mailto links, rel=noopener on links.

    Relative URLs are resolved against `base_url` when it is an http(s) URL.
    """
    if not html_text:
        return ""
    base = base_url if base_url and urlsplit(base_url).scheme in ("http", "https") else None
    return nh3.clean(
        html_text,
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        attribute_filter=_url_filter(base),
        url_schemes=set(LINK_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()


# Void elements have no end tag, so they must not open a skipped region in the text extractor.
_SKIP_IN_TEXT = DROP_WITH_CONTENT - {"embed"}


class _TextExtractor(HTMLParser):
    """Collects text, skipping the content of script/style-like elements."""

    def __init__(self, decode_entities: bool) -> None:
        super().__init__(convert_charrefs=False)
        self.decode_entities = decode_entities
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_IN_TEXT:
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_IN_TEXT and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def handle_entityref(self, name: str) -> None:
        self.handle_data(html.unescape(f"&{name};") if self.decode_entities else f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(html.unescape(f"&#{name};") if self.decode_entities else f"&#{name};")


def to_plain_text(value: str | None, *, is_html: bool = True, max_length: int = 1000) -> str | None:
    """Plain text from a title/name: tags removed, entities decoded, whitespace collapsed.

    Markup is removed even when a feed declares the value as text: titles are shown
    and served as plain text everywhere, and a literal "<b>" in a title is rare.
    """
    if value is None:
        return None
    parser = _TextExtractor(decode_entities=is_html)
    parser.feed(value)
    parser.close()
    text = re.sub(r"\s+", " ", "".join(parser.parts)).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "\u2026"
    return text or None

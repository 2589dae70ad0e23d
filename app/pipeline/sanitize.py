"""HTML sanitisation (nh3) and HTML-to-text for titles and names.

This is the only sanitiser of feed HTML (feedparser's own is turned off in parse.py):
an explicit allow-list, because feed HTML ends up inside our own pages. It also makes
relative URLs absolute, so it is the only place where item HTML is rewritten.
"""

from __future__ import annotations

import html
import re
from contextvars import ContextVar
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
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]+")
HTTP_SCHEMES = ("http", "https")

# The http(s) base of the document being cleaned, or None (relative URLs are then kept).
# The cleaner is shared, so the base reaches its attribute filter through a context
# variable: each thread (and each asyncio task) sees only the value it set.
_BASE_URL: ContextVar[str | None] = ContextVar("sanitize_base_url", default=None)


def _check_url(tag: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: allowed schemes only; relative URLs resolved against the base."""
    if attribute not in URL_ATTRIBUTES:
        return value
    base_url = _BASE_URL.get()
    # Browsers ignore control characters and whitespace inside schemes ("java\tscript:").
    compact = _CONTROL_OR_SPACE.sub("", value)
    match = _SCHEME.match(compact)
    allowed = MEDIA_SCHEMES if tag == "img" else LINK_SCHEMES
    if match:
        return value.strip() if match.group(1).lower() in allowed else None
    if compact.startswith("//") and base_url:
        relative = compact
    elif base_url is None:
        return value
    else:
        relative = value.strip()
    try:
        absolute = urljoin(base_url, relative)
        return absolute if urlsplit(absolute).scheme in allowed else None
    except ValueError:  # e.g. "//[::1": dropped, as nh3 drops it when a filter raises
        return None


# Built once: building a cleaner (allow-lists and all) costs ten times as much as using it.
_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes={k: set(v) for k, v in ATTRIBUTES.items()},
    attribute_filter=_check_url,
    url_schemes=set(LINK_SCHEMES),
    link_rel=LINK_REL,
    strip_comments=True,
)


def http_base(url: str | None) -> str | None:
    """`url` when it is an http(s) URL, else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return url if scheme in HTTP_SCHEMES else None


def sanitize_html(html_text: str, base_url: str | None = None) -> str:
    """Clean untrusted HTML: safe tags only, http(s)/mailto links, rel=noopener on links.

    Relative URLs are resolved against `base_url` when it is an http(s) URL.
    """
    if not html_text:
        return ""
    token = _BASE_URL.set(http_base(base_url))
    try:
        return _CLEANER.clean(html_text).strip()
    finally:
        _BASE_URL.reset(token)


_WHITESPACE = re.compile(r"\s+")

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
    if "<" in value or "&" in value:
        parser = _TextExtractor(decode_entities=is_html)
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    # Without "<" or "&" there is neither markup nor an entity: the parser would return
    # the value unchanged, so it is skipped.
    text = _WHITESPACE.sub(" ", value).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "\u2026"
    return text or None

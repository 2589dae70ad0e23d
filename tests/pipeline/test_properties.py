"""Property tests: IPv4 spellings always decode to the same address; sanitiser output is inert."""

from __future__ import annotations

import html
import ipaddress
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from app.pipeline import is_blocked_ip, literal_host_blocked, parse_feed, sanitize_html
from app.pipeline.addresses import parse_ipv4_literal
from app.pipeline.sanitize import _TextExtractor, to_plain_text


def spell(value: int, parts: int, style: str) -> str:
    """Write a 32-bit address with 1-4 parts, each part in decimal, hex or octal."""
    octets = list(value.to_bytes(4, "big"))
    numbers = octets[: parts - 1] + [int.from_bytes(bytes(octets[parts - 1 :]), "big")]
    render = {"dec": str, "hex": lambda n: hex(n), "oct": lambda n: "0" + oct(n)[2:]}[style]
    return ".".join(render(n) for n in numbers)


@settings(max_examples=300, deadline=None)
@given(
    value=st.integers(min_value=0, max_value=2**32 - 1),
    parts=st.integers(min_value=1, max_value=4),
    style=st.sampled_from(["dec", "hex", "oct"]),
)
def test_every_ipv4_spelling_decodes_to_the_same_address(
    value: int, parts: int, style: str
) -> None:
    address = ipaddress.IPv4Address(value)
    spelling = spell(value, parts, style)
    assert parse_ipv4_literal(spelling) == address
    assert literal_host_blocked(f"http://{spelling}/") == is_blocked_ip(address)


class _Inspector(HTMLParser):
    """Records what a browser would act on: element names, attribute names, URL schemes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "iframe", "svg", "math", "form", "object", "embed"}:
            self.problems.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(name)
            if name in ("href", "src") and value is not None:
                scheme = urlsplit(value.strip()).scheme.lower()
                if scheme not in ("http", "https", "mailto"):
                    self.problems.append(f"{name}={value}")


FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "<script>",
            "</script>",
            "<img src=x onerror=alert(1)>",
            "<a href='javascript:x'>",
            "<svg/onload=alert(1)>",
            "<iframe>",
            "<style>",
            "<p>",
            "</p>",
            "text",
            "&lt;",
            '"',
            "'",
            "<",
            ">",
            "=",
            " on",
            "click=",
            "java",
            "script:",
            "<!--",
            "-->",
            "<b",
            "<math>",
            "<form>",
            "style=",
            "data:",
            "<a href=",
            "<img src=",
            "\t",
            "\n",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(FRAGMENTS)
def test_sanitised_html_never_contains_active_markup(fragment: str) -> None:
    out = sanitize_html(fragment, "https://feeds.example.com/")
    inspector = _Inspector()
    inspector.feed(out)
    inspector.close()
    assert inspector.problems == [], (fragment, out)


def _inspect(value: str | None) -> list[str]:
    inspector = _Inspector()
    inspector.feed(value or "")
    inspector.close()
    return inspector.problems


@settings(max_examples=150, deadline=None)
@given(FRAGMENTS)
def test_parsed_feed_html_never_contains_active_markup(fragment: str) -> None:
    # Through feedparser too: RSS content in CDATA, escaped RSS description, Atom HTML.
    rss = (
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>F</title><item><guid>1</guid><title>{html.escape(fragment)}</title>"
        f"<description>{html.escape(fragment)}</description>"
        f"<content:encoded><![CDATA[{fragment}]]></content:encoded></item></channel></rss>"
    )
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://b.example/d/">'
        f'<title>F</title><entry><id>1</id><summary type="html">{html.escape(fragment)}'
        "</summary></entry></feed>"
    )
    for body in (rss, atom):
        feed = parse_feed(body.encode(), {"Content-Type": "application/xml"}, "https://f.example/")
        for item in feed.items:
            assert _inspect(item.summary_html) == [], (fragment, item.summary_html)
            assert _inspect(item.content_html) == [], (fragment, item.content_html)


def _plain_text_by_parser(value: str, is_html: bool, max_length: int = 1000) -> str | None:
    parser = _TextExtractor(decode_entities=is_html)
    parser.feed(value)
    parser.close()
    text = re.sub(r"\s+", " ", "".join(parser.parts)).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "\u2026"
    return text or None


PLAIN_TEXT_PIECES = [*"ab <>&;#x\t\n\u00a0\u2028\u00e9", "&amp;", "&#233;", "<b>", "<script>"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_TEXT_PIECES), max_size=40).map("".join), st.booleans())
def test_plain_text_shortcut_matches_the_parser(value: str, is_html: bool) -> None:
    assert to_plain_text(value, is_html=is_html) == _plain_text_by_parser(value, is_html)

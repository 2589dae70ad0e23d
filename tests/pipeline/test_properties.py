"""Property tests: IPv4 spellings always decode to the same address; sanitiser output is inert."""

from __future__ import annotations

import ipaddress
from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from app.pipeline import is_blocked_ip, literal_host_blocked, sanitize_html
from app.pipeline.addresses import parse_ipv4_literal


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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
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
)
def test_sanitised_html_never_contains_active_markup(fragment: str) -> None:
    out = sanitize_html(fragment, "https://feeds.example.com/")
    inspector = _Inspector()
    inspector.feed(out)
    inspector.close()
    assert inspector.problems == [], (fragment, out)

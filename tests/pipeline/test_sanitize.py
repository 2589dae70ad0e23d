"""No script survives: sanitisation of item HTML, titles and links."""

from __future__ import annotations

import html
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.pipeline import parse_feed, sanitize_html

BASE = "https://feeds.example.com/feed.xml"

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="java\tscript:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>body{display:none}</style>",
    '<iframe src="https://evil.example/"></iframe>',
    '<form action="https://evil.example/"><input name="q"><button>go</button></form>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<div onclick="alert(1)" onmouseover="alert(1)">hover</div>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=x">',
    '<a href="https://ok.example/" target="_blank" rel="opener">ok</a>',
    "<!--<script>alert(1)</script>-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<video><source onerror="alert(1)"></video><audio src="x" onloadstart="alert(1)"></audio>',
    '<a href="jav&#x09;ascript:alert(1)">entity tab</a>',
]
DANGEROUS = re.compile(
    r"<\s*(script|style|iframe|object|embed|form|input|svg|math|base|meta|button)\b|"
    r"\son\w+\s*=|javascript:|vbscript:|data:|style\s*=",
    re.IGNORECASE,
)


def is_inert(value: str | None) -> bool:
    """No dangerous element or attribute inside any tag (escaped text is inert)."""
    if value is None:
        return True
    return not any(DANGEROUS.search(tag) for tag in re.findall(r"<[^>]*>?", value))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitize_html_removes_dangerous_markup(payload: str) -> None:
    out = sanitize_html(payload, BASE)
    assert is_inert(out)
    assert not DANGEROUS.search(out)  # not even as text: the content of such tags is dropped


def test_sanitize_keeps_normal_formatting() -> None:
    kept = (
        "<h2>Head</h2><p><b>b</b> <i>i</i> <em>e</em> <strong>s</strong></p>"
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote>"
        "<pre><code>x = 1</code></pre><table><tbody><tr><td>c</td></tr></tbody></table>"
    )
    assert sanitize_html(kept) == kept


def test_links_get_rel_noopener_noreferrer_nofollow() -> None:
    out = sanitize_html('<a href="https://ok.example/">ok</a>')
    assert 'rel="noopener noreferrer nofollow"' in out and 'href="https://ok.example/"' in out


def test_http_images_are_kept_and_relative_sources_resolved() -> None:
    out = sanitize_html('<img src="https://cdn.example/a.png" alt="a"><img src="/b.png">', BASE)
    assert 'src="https://cdn.example/a.png"' in out
    assert 'src="https://feeds.example.com/b.png"' in out


def test_mailto_links_are_kept_but_not_as_image_sources() -> None:
    out = sanitize_html('<a href="mailto:me@example.com">m</a><img src="mailto:me@example.com">')
    assert 'href="mailto:me@example.com"' in out and "<img>" in out


def rss_with(payload: str) -> bytes:
    escaped = html.escape(payload)
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escaped}Feed</title><item><guid>1</guid>"
        f"<title>{escaped}Title</title><link>javascript:alert(1)</link>"
        f"<description>{escaped}Summary</description>"
        f"<content:encoded><![CDATA[{payload}Content]]></content:encoded>"
        "</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_does_not_survive_rss_parsing(payload: str) -> None:
    feed = parse_feed(rss_with(payload), {"Content-Type": "application/rss+xml"}, BASE)
    item = feed.items[0]
    for value in (feed.title, item.title, item.summary_html, item.content_html):
        assert is_inert(value)
    for text in (feed.title, item.title):  # plain text: markup removed, not escaped
        assert text is not None and "<" not in text
    assert item.url is None


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_does_not_survive_atom_parsing(payload: str) -> None:
    escaped = html.escape(payload)
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">'
        f"{escaped}</title><entry><id>1</id><title type='html'>{escaped}T</title>"
        f'<link href="javascript:alert(1)"/><summary type="html">{escaped}</summary>'
        f'<content type="html">{escaped}</content></entry></feed>'
    ).encode()
    item = parse_feed(body, {"Content-Type": "application/atom+xml"}, BASE).items[0]
    for value in (item.title, item.summary_html, item.content_html):
        assert is_inert(value)
    assert item.url is None


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_does_not_survive_json_feed_parsing(payload: str) -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": payload + "Feed",
            "items": [
                {
                    "id": "1",
                    "title": payload + "T",
                    "url": "javascript:alert(1)",
                    "content_html": payload,
                    "summary": payload,
                }
            ],
        }
    ).encode()
    item = parse_feed(body, {"Content-Type": "application/feed+json"}, BASE).items[0]
    for value in (item.title, item.summary_html, item.content_html):
        assert is_inert(value)
    assert item.url is None


def test_script_text_in_a_title_is_dropped_not_shown() -> None:
    feed = parse_feed(
        rss_with("<script>alert(1)</script>"), {"Content-Type": "application/xml"}, BASE
    )
    assert feed.items[0].title == "Title"


# Well-formed XML, as Atom type="xhtml" content must be; feedparser re-serialises it.
XHTML_PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)"/>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href=" JaVaScRiPt:alert(1)">click</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"/>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>body{display:none}</style>",
    '<iframe src="https://evil.example/"></iframe>',
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="1"/></svg>',
    '<div onclick="alert(1)">hover</div>',
    '<math xmlns="http://www.w3.org/1998/Math/MathML"><mtext>m</mtext></math>',
    '<form action="https://evil.example/"><input name="q"/></form>',
]


@pytest.mark.parametrize("payload", XHTML_PAYLOADS)
def test_xss_payload_does_not_survive_atom_xhtml_content(payload: str) -> None:
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><id>1</id>'
        '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        f"{payload}T</div></title>"
        '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        f"{payload}S</div></summary>"
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        f"<p>{payload}C</p></div></content></entry></feed>"
    ).encode()
    item = parse_feed(body, {"Content-Type": "application/atom+xml"}, BASE).items[0]
    for value in (item.title, item.summary_html, item.content_html):
        assert is_inert(value)
        assert not DANGEROUS.search(value or "")
    assert item.title is not None and "<" not in item.title


def test_javascript_link_in_content_keeps_its_text_but_loses_its_href() -> None:
    content = (
        parse_feed(
            rss_with('<a href="javascript:alert(1)">click</a>'),
            {"Content-Type": "application/xml"},
            BASE,
        )
        .items[0]
        .content_html
    )
    assert content == '<a rel="noopener noreferrer nofollow">click</a>Content'


def test_script_and_style_content_is_dropped_from_entry_html() -> None:
    item = parse_feed(
        rss_with("<script>var a = 1;</script><style>p { color: red }</style>ok"),
        {"Content-Type": "application/xml"},
        BASE,
    ).items[0]
    assert item.content_html == "okContent"
    assert item.summary_html == "okSummary"


def test_event_handlers_and_style_attributes_are_dropped_from_entry_html() -> None:
    content = (
        parse_feed(
            rss_with('<p onclick="alert(1)" style="color:red" class="c">text</p>'),
            {"Content-Type": "application/xml"},
            BASE,
        )
        .items[0]
        .content_html
    )
    assert content == "<p>text</p>Content"


def test_data_uri_image_source_is_dropped_from_entry_html() -> None:
    content = (
        parse_feed(
            rss_with('<img src="data:image/png;base64,AAAA" alt="a">'),
            {"Content-Type": "application/xml"},
            BASE,
        )
        .items[0]
        .content_html
    )
    assert content == '<img alt="a">Content'


def test_base_url_of_one_call_does_not_leak_into_the_next() -> None:
    assert 'href="https://feeds.example.com/x"' in sanitize_html('<a href="x">x</a>', BASE)
    assert sanitize_html('<a href="x">x</a>') == (
        '<a href="x" rel="noopener noreferrer nofollow">x</a>'
    )


def test_non_http_base_url_leaves_relative_urls_alone() -> None:
    out = sanitize_html('<a href="x">x</a>', "ftp://files.example/d/")
    assert out == '<a href="x" rel="noopener noreferrer nofollow">x</a>'


def test_concurrent_calls_each_resolve_against_their_own_base_url() -> None:
    markup = '<a href="page">p</a>' + "<p>filler</p>" * 2000 + '<img src="i.png">'

    def clean(n: int) -> bool:
        out = sanitize_html(markup, f"https://h{n}.example/d/")
        return f'href="https://h{n}.example/d/page"' in out and (
            f'src="https://h{n}.example/d/i.png"' in out
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(clean, range(64)))


def test_unparseable_relative_url_is_dropped() -> None:
    assert sanitize_html('<a href="//[::1">x</a>', BASE) == (
        '<a rel="noopener noreferrer nofollow">x</a>'
    )

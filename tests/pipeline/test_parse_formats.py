"""parse_feed over the fixture documents: formats, encodings, dates, links, errors."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.pipeline import FetchError, parse_feed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = "https://feeds.example.com/path/feed.xml"
XML = {"Content-Type": "application/xml"}


def parse(name: str, headers: dict[str, str] | None = None, base: str = BASE, **kw):
    return parse_feed((FIXTURES / name).read_bytes(), headers or XML, base, **kw)


@pytest.mark.parametrize(
    ("name", "fmt", "title", "count"),
    [
        ("rss091.xml", "rss091n", "Old School 0.91", 2),
        ("rss092.xml", "rss092", "Feed 0.92", 1),
        ("rss10.rdf", "rss10", "RDF Site", 1),
        ("rss20.xml", "rss20", "Example & Co", 3),
        ("atom03.xml", "atom03", "Atom 0.3 Feed", 1),
        ("atom10.xml", "atom10", "Atom 1.0 Feed", 2),
    ],
)
def test_each_xml_format_is_recognised(name: str, fmt: str, title: str, count: int) -> None:
    feed = parse(name)
    assert (feed.format, feed.title, len(feed.items), feed.warning) == (fmt, title, count, None)


def test_rss20_channel_metadata_and_ttl_in_seconds() -> None:
    feed = parse("rss20.xml")
    assert feed.site_url == "https://www.example.com/"
    assert feed.ttl_seconds == 3600


def test_rss_pubdate_with_offset_is_normalised_to_utc() -> None:
    older = next(i for i in parse("rss20.xml").items if i.guid == "post-1")
    assert older.published_at == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    assert older.published_at.tzinfo is UTC


def test_missing_dates_are_none() -> None:
    undated = next(i for i in parse("rss20.xml").items if i.title == "Undated link-only post")
    assert undated.published_at is None and undated.updated_at is None


def test_rss_item_without_update_date_has_no_updated_at() -> None:
    newer = next(i for i in parse("rss20.xml").items if i.title == "Newer post")
    assert newer.updated_at is None


def test_atom_published_and_updated_with_offsets_are_utc() -> None:
    entry = parse("atom10.xml").items[0]
    assert entry.published_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert entry.updated_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def test_atom03_issued_date_with_negative_offset_is_utc() -> None:
    assert parse("atom03.xml").items[0].published_at == datetime(2004, 1, 1, 15, 0, tzinfo=UTC)


def test_rdf_dc_date_is_parsed_as_utc() -> None:
    item = parse("rss10.rdf").items[0]
    assert item.updated_at == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)
    assert item.author == "Ada"


def test_items_are_ordered_newest_first_with_undated_last() -> None:
    titles = [i.title for i in parse("rss20.xml").items]
    assert titles == ["Newer post", "Older post", "Undated link-only post"]


def test_relative_item_link_is_resolved_against_the_document_url() -> None:
    older = next(i for i in parse("rss20.xml").items if i.guid == "post-1")
    assert older.url == "https://feeds.example.com/posts/older"


def test_relative_urls_in_content_are_resolved_against_the_document_url() -> None:
    newer = next(i for i in parse("rss20.xml").items if i.title == "Newer post")
    assert 'href="https://feeds.example.com/about"' in (newer.content_html or "")
    assert 'src="https://feeds.example.com/path/pic.png"' in (newer.content_html or "")


def test_xml_base_resolves_entry_links_and_content() -> None:
    first, second = parse("atom10.xml").items
    assert first.url == "https://atom.example.org/blog/entries/1"
    assert 'href="https://atom.example.org/blog/more"' in (first.content_html or "")
    assert second.url == "https://other.example.net/x/page"
    assert 'src="https://other.example.net/x/img.png"' in (second.content_html or "")


def test_html_title_becomes_plain_text() -> None:
    feed = parse("atom10.xml")
    assert feed.title == "Atom 1.0 Feed"
    assert feed.items[1].title == "Second entry"


def test_plain_text_summary_is_escaped_not_interpreted() -> None:
    entry = parse("atom10.xml").items[0]
    assert entry.summary_html == "Plain text summary with &lt;tags&gt; shown literally"


def test_escaped_html_description_is_kept_as_html() -> None:
    assert parse("rss092.xml").items[0].summary_html == "<p>Escaped <b>HTML</b></p>"


def test_rss091_external_doctype_is_not_fetched() -> None:
    # The fixture's DOCTYPE points at 127.0.0.1:9; parsing must not try to load it.
    assert parse("rss091.xml").items[0].url == "http://old.example.com/1"


@pytest.mark.parametrize(
    ("name", "charset", "title", "summary"),
    [
        ("latin1.xml", "ISO-8859-1", "Café crème à Zürich", "Ærøskøbing"),
        ("cp1252.xml", "windows-1252", "“Smart quotes” – and € sign", "naïve…"),
        ("shiftjis.xml", "Shift_JIS", "日本語のフィード", "こんにちは世界"),
    ],
)
def test_declared_encodings_are_decoded(name: str, charset: str, title: str, summary: str) -> None:
    for headers in ({"Content-Type": f"application/rss+xml; charset={charset}"}, XML):
        feed = parse(name, headers)
        assert feed.title == title
        assert feed.items[0].summary_html == summary


def test_json_feed_11_is_parsed() -> None:
    feed = parse(
        "jsonfeed11.json",
        {"Content-Type": "application/feed+json"},
        base="https://json.example.com/feed.json",
    )
    assert (feed.format, feed.title, feed.site_url) == (
        "json11",
        "JSON Feed 1.1",
        "https://json.example.com/",
    )
    second, first = feed.items
    assert second.key == "guid:2" and first.key == "guid:1"
    assert second.url == "https://json.example.com/posts/2"
    assert second.title == "Second JSON post"
    assert second.author == "Item Author" and first.author == "Feed Author"
    assert second.published_at == datetime(2024, 2, 2, 8, 0, tzinfo=UTC)
    assert second.updated_at == datetime(2024, 2, 2, 12, 0, tzinfo=UTC)
    assert "<script" not in (second.content_html or "")
    assert 'href="https://json.example.com/x"' in (second.content_html or "")
    assert first.content_html == "<p>Plain &lt;text&gt; only</p>"
    assert first.summary_html == "A summary"


def test_json_feed_10_is_parsed() -> None:
    feed = parse("jsonfeed10.json", {"Content-Type": "application/json"})
    assert feed.format == "json10" and feed.items[0].author == "Old Author"
    assert feed.items[0].published_at == datetime(2020, 6, 1, 15, 0, tzinfo=UTC)


def test_json_feed_is_detected_by_body_without_content_type() -> None:
    body = (FIXTURES / "jsonfeed11.json").read_bytes()
    assert parse_feed(body, {"Content-Type": "text/plain"}, BASE).format == "json11"


def test_json_that_is_not_a_json_feed_is_not_a_feed() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(b'{"data": [1, 2, 3]}', {"Content-Type": "application/json"}, BASE)
    assert info.value.code == "not_a_feed"


def test_invalid_json_is_a_parse_error() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(
            b'{"version": "https://jsonfeed.org/version/1.1", ',
            {"Content-Type": "application/feed+json"},
            BASE,
        )
    assert info.value.code == "parse_error"


def test_deeply_nested_json_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(b"{" + b'"a":[' * 100_000, {"Content-Type": "application/json"}, BASE)
    assert info.value.code == "parse_error"


def test_malformed_xml_with_recoverable_entries_keeps_items_and_warns() -> None:
    feed = parse("malformed.xml")
    assert [i.title for i in feed.items] == ["Item one & friends", "Item two"]
    assert feed.warning and "2 items" in feed.warning


def test_unrecoverable_xml_is_a_parse_error() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(b"<?xml version='1.0'?><rss><channel><title>x</ti", XML, BASE)
    assert info.value.code == "parse_error"


def test_binary_garbage_is_a_parse_error() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(bytes(range(256)) * 4, {"Content-Type": "application/octet-stream"}, BASE)
    assert info.value.code == "parse_error"


def test_empty_body_is_a_parse_error() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(b"  \n", XML, BASE)
    assert info.value.code == "parse_error"


def test_well_formed_xml_that_is_not_a_feed_is_not_a_feed() -> None:
    with pytest.raises(FetchError) as info:
        parse_feed(b"<?xml version='1.0'?><catalog><book>x</book></catalog>", XML, BASE)
    assert info.value.code == "not_a_feed"


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FetchError) as info:
        parse("page_with_feeds.html", {"Content-Type": "text/html"})
    assert info.value.code == "not_a_feed"


def test_feed_with_no_items_is_valid_and_empty() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>Empty</title></channel></rss>', XML, BASE
    )
    assert feed.title == "Empty" and feed.items == []


def test_feed_served_as_text_html_is_still_parsed() -> None:
    feed = parse("rss20.xml", {"Content-Type": "text/html; charset=utf-8"})
    assert len(feed.items) == 3


def test_utf16_feed_with_bom_is_decoded() -> None:
    text = (FIXTURES / "latin1.xml").read_bytes().decode("iso-8859-1")
    body = text.replace('encoding="ISO-8859-1"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_feed(body, XML, BASE).title == "Café crème à Zürich"


def atom(entry: str, feed_attrs: str = "") -> bytes:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom"{feed_attrs}><title>A</title>'
        f"<entry><id>urn:x:1</id><title>E</title>{entry}</entry></feed>"
    ).encode()


LINKS = '&lt;a href="x.html"&gt;x&lt;/a&gt; &lt;img src="../i.png"&gt;'


def test_relative_urls_in_content_are_resolved_against_the_feed_xml_base() -> None:
    body = atom(f'<content type="html">{LINKS}</content>', ' xml:base="https://b.example/d/"')
    content = parse_feed(body, XML, BASE).items[0].content_html or ""
    assert 'href="https://b.example/d/x.html"' in content
    assert 'src="https://b.example/i.png"' in content


def test_xml_base_on_the_content_element_applies_to_its_urls() -> None:
    body = atom(f'<content type="html" xml:base="https://c.example/e/f/">{LINKS}</content>')
    content = parse_feed(body, XML, BASE).items[0].content_html or ""
    assert 'href="https://c.example/e/f/x.html"' in content
    assert 'src="https://c.example/e/i.png"' in content


def test_xml_base_on_the_summary_applies_to_the_summary_only() -> None:
    body = atom(
        f'<summary type="html" xml:base="https://s.example/s/">{LINKS}</summary>'
        f'<content type="html">{LINKS}</content>',
        ' xml:base="https://b.example/d/"',
    )
    item = parse_feed(body, XML, BASE).items[0]
    assert 'href="https://s.example/s/x.html"' in (item.summary_html or "")
    assert 'href="https://b.example/d/x.html"' in (item.content_html or "")


def test_relative_xml_base_is_resolved_against_the_document_url() -> None:
    body = atom(f'<content type="html">{LINKS}</content>', ' xml:base="/blog/"')
    content = parse_feed(body, XML, BASE).items[0].content_html or ""
    assert 'href="https://feeds.example.com/blog/x.html"' in content
    assert 'src="https://feeds.example.com/i.png"' in content


def test_non_http_xml_base_falls_back_to_the_document_url() -> None:
    body = atom(f'<content type="html">{LINKS}</content>', ' xml:base="ftp://files.example/d/"')
    content = parse_feed(body, XML, BASE).items[0].content_html or ""
    assert 'href="https://feeds.example.com/path/x.html"' in content
    assert "ftp:" not in content


def test_atom_content_urls_without_xml_base_use_the_document_url() -> None:
    content = parse_feed(atom(f'<content type="html">{LINKS}</content>'), XML, BASE)
    html_text = content.items[0].content_html or ""
    assert 'href="https://feeds.example.com/path/x.html"' in html_text
    assert 'src="https://feeds.example.com/i.png"' in html_text


def test_content_only_entry_under_xml_base_keeps_one_copy() -> None:
    # feedparser copies content into summary; the copy must clean to the same HTML.
    body = atom(f'<content type="html">{LINKS}</content>', ' xml:base="https://b.example/d/"')
    item = parse_feed(body, XML, BASE).items[0]
    assert item.summary_html is None
    assert 'href="https://b.example/d/x.html"' in (item.content_html or "")


def test_text_content_only_entry_is_escaped() -> None:
    item = parse_feed(atom('<content type="text">1 &lt; 2 &amp; &lt;b&gt;</content>'), XML, BASE)
    assert item.items[0].content_html == "1 &lt; 2 &amp; &lt;b&gt;"


def test_xhtml_void_elements_are_not_doubled() -> None:
    body = atom(
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<p>a<br/>b<img src="i.png"/></p><hr/></div></content>'
    )
    content = parse_feed(body, XML, BASE).items[0].content_html
    assert content == '<p>a<br>b<img src="https://feeds.example.com/path/i.png"></p><hr>'


def test_parsing_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A failed import per parse (feedparser asking for libxml2's SAX driver) takes
    # Python's import lock, which a worker's threads then queue on.
    import builtins

    wanted: list[str] = []
    real_import = builtins.__import__

    def recording_import(name: str, *args: object, **kwargs: object) -> object:
        wanted.append(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    parse("rss20.xml")  # anything imported lazily on first use, once
    monkeypatch.setattr(builtins, "__import__", recording_import)
    parse("rss20.xml")
    assert "drv_libxml2" not in wanted


@pytest.mark.parametrize(
    "name", sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".xml", ".rdf"))
)
def test_feedparsers_flat_copy_of_content_details_equals_its_deep_copy(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import copy

    import feedparser
    import feedparser.mixin

    from app.pipeline import parse as parse_module

    def raw(body: bytes) -> object:
        result = feedparser.parse(
            io.BytesIO(body), response_headers=XML, resolve_relative_uris=False, sanitize_html=False
        )
        return result["feed"], result["entries"]

    body = (FIXTURES / name).read_bytes()
    assert feedparser.mixin.copy is parse_module._FlatCopy
    flat = raw(body)
    monkeypatch.setattr(feedparser.mixin, "copy", copy)
    assert flat == raw(body)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".xml", ".rdf"))
)
def test_buffered_expat_driver_gives_what_the_stock_one_gives(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.sax

    import feedparser

    from app.pipeline.expat_reader import BufferedExpatParser

    body = (FIXTURES / name).read_bytes()
    escaped = atom(
        '<content type="html">&lt;p&gt;a &amp;amp; b&lt;/p&gt;&#160;&lt;br/&gt;</content>'
    )
    ours = [parse_feed(doc, XML, BASE) for doc in (body, escaped)]
    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", [])
    stock = [parse_feed(doc, XML, BASE) for doc in (body, escaped)]
    assert ours == stock
    assert isinstance(xml.sax.make_parser(["app.pipeline.expat_reader"]), BufferedExpatParser)

"""The streaming scan before parsing: each cap at its edge, cuts, emptied fields."""

from __future__ import annotations

from dataclasses import replace

import feedparser
import pytest

from app.pipeline import FetchError, FetchLimits, PageLinks, parse_feed, read_document
from app.pipeline.scan import scan_xml

BASE = "https://feeds.example.com/feed.xml"
XML = {"Content-Type": "application/rss+xml"}
LIMITS = FetchLimits()
DECL = b"<?xml version='1.0' encoding='utf-8'?>\n"


def rss(*items: str, channel: str = "") -> bytes:
    body = "".join(f"<item>{i}</item>" for i in items)
    return (
        f'{DECL.decode()}<rss version="2.0"><channel><title>t</title>{channel}{body}'
        "</channel></rss>"
    ).encode()


def refused(data: bytes, limits: FetchLimits) -> FetchError:
    with pytest.raises(FetchError) as info:
        scan_xml(data, limits)
    assert info.value.code == "parse_limit"
    return info.value


# -- elements, depth, attributes: refused at one past the cap ---------------------------


def test_elements_up_to_the_cap_pass_and_one_more_is_refused() -> None:
    # rss, channel, title, item and guid are 5 elements; the rest are <x/>.
    at_cap = rss("<guid>1</guid>" + "<x/>" * 95)
    assert scan_xml(at_cap, replace(LIMITS, max_elements=100)).data == at_cap
    error = refused(rss("<guid>1</guid>" + "<x/>" * 96), replace(LIMITS, max_elements=100))
    assert "more than 100 elements" in error.message


def test_nesting_up_to_the_depth_cap_passes_and_one_level_more_is_refused() -> None:
    # rss > channel > item > a... : the item sits at depth 3 (0-based).
    limits = replace(LIMITS, max_depth=10)
    assert scan_xml(rss("<a>" * 7 + "</a>" * 7), limits)
    error = refused(rss("<a>" * 8 + "</a>" * 8), limits)
    assert "10 levels" in error.message


def test_attributes_up_to_the_cap_pass_and_one_byte_more_is_refused() -> None:
    limits = replace(LIMITS, max_attribute_bytes=100)
    # Name and value count: "href" (4) + 96 characters = 100.
    assert scan_xml(rss(f'<link href="{"u" * 96}"/>'), limits)
    refused(rss(f'<link href="{"u" * 97}"/>'), limits)


def test_attribute_size_is_counted_after_entity_expansion() -> None:
    limits = replace(LIMITS, max_attribute_bytes=100)
    prolog = '<!DOCTYPE rss [\n<!ENTITY e "AAAAAAAAAAAAAAAA">\n]>'
    doc = DECL + prolog.encode() + rss(f'<link href="{"&e;" * 7}"/>')[len(DECL) :]
    assert len(b"&e;" * 7) < 100 < 4 + 16 * 7
    refused(doc, limits)


def test_many_attributes_on_one_element_are_refused() -> None:
    many = " ".join(f"a{n}='{n}'" for n in range(10_000))
    refused(rss(f"<enclosure {many}/>"), LIMITS)


# -- items: cut after max_items_read, the open elements closed --------------------------


def test_items_up_to_the_read_cap_are_kept_whole() -> None:
    doc = rss(*(f"<guid>{n}</guid>" for n in range(5)))
    scanned = scan_xml(doc, replace(LIMITS, max_items_read=5))
    assert scanned.data == doc and not scanned.items_cut


def test_document_is_cut_before_the_item_past_the_read_cap_and_closed() -> None:
    doc = rss(*(f"<guid>{n}</guid>" for n in range(6)))
    scanned = scan_xml(doc, replace(LIMITS, max_items_read=5))
    assert scanned.items_cut
    assert scanned.data.endswith(b"<item><guid>4</guid></item></channel></rss>")
    assert len(feedparser.parse(scanned.data).entries) == 5
    assert not feedparser.parse(scanned.data).bozo


def test_atom_entries_with_a_prefix_count_as_items() -> None:
    doc = (
        DECL + b'<a:feed xmlns:a="http://www.w3.org/2005/Atom">'
        b"<a:entry><a:id>1</a:id></a:entry><a:entry><a:id>2</a:id></a:entry></a:feed>"
    )
    scanned = scan_xml(doc, replace(LIMITS, max_items_read=1))
    assert scanned.data.endswith(b"<a:entry><a:id>1</a:id></a:entry></a:feed>")


def test_items_nested_inside_a_field_count_too() -> None:
    # feedparser starts an entry for every <item>, wherever it is.
    doc = rss("<guid>1</guid><x>" + "<item/>" * 10 + "</x>")
    scanned = scan_xml(doc, replace(LIMITS, max_items_read=3))
    assert scanned.items_cut
    assert scanned.data.endswith(b"<item/><item/></x></item></channel></rss>")


def test_parsed_feed_keeps_the_newest_items_of_those_read_and_says_it_was_cut() -> None:
    items = [
        f"<guid>{n}</guid><pubDate>Mon, 0{n + 1} Jan 2024 00:00:00 GMT</pubDate>" for n in range(6)
    ]
    feed = parse_feed(rss(*items), XML, BASE, replace(LIMITS, max_items=2, max_items_read=4))
    assert [i.guid for i in feed.items] == ["3", "2"]  # items 4 and 5 were never read
    assert feed.warning is not None and "more than 4 items" in feed.warning


# -- fields: emptied past max_field_bytes, tags kept -----------------------------------


def test_field_up_to_the_cap_is_kept_and_one_byte_more_is_emptied() -> None:
    limits = replace(LIMITS, max_field_bytes=100)
    tags = len("<description></description>")  # the span counted: start tag to end tag
    keep = rss(
        f"<guid>1</guid><description>{'d' * (100 - tags + len('</description>'))}</description>"
    )
    assert scan_xml(keep, limits).fields_emptied == 0
    over = rss(
        f"<guid>1</guid><description>{'d' * (101 - tags + len('</description>'))}</description>"
    )
    scanned = scan_xml(over, limits)
    assert scanned.fields_emptied == 1
    assert b"<item><guid>1</guid><description></description></item>" in scanned.data


def test_emptied_field_keeps_its_attributes_and_namespace() -> None:
    limits = replace(LIMITS, max_field_bytes=100)
    namespace = 'xmlns:c="http://purl.org/rss/1.0/modules/content/"'
    field = f'<c:encoded {namespace} a=">">{"x" * 200}</c:encoded>'
    scanned = scan_xml(rss("<guid>1</guid>" + field), limits)
    assert b'a=">"></c:encoded>' in scanned.data
    assert not feedparser.parse(scanned.data).bozo


def test_channel_level_fields_are_capped_too() -> None:
    scanned = scan_xml(
        rss("<guid>1</guid>", channel=f"<description>{'d' * 300}</description>"),
        replace(LIMITS, max_field_bytes=100),
    )
    assert scanned.fields_emptied == 1


def test_huge_item_made_of_small_fields_is_not_a_field() -> None:
    fields = "".join(f"<category>{n}</category>" for n in range(100))
    assert scan_xml(rss(fields), replace(LIMITS, max_field_bytes=100)).fields_emptied == 0


def test_megabytes_of_escaped_text_are_emptied_without_a_callback_per_entity() -> None:
    feed = parse_feed(
        rss(f"<guid>1</guid><description>{'&lt;' * 1_000_000}</description>"), XML, BASE
    )
    assert feed.items[0].summary_html is None
    assert feed.warning is not None and "over 512 KiB were left out" in feed.warning


# -- documents that are not well-formed: byte counts past the error ---------------------


def test_items_past_an_xml_error_are_still_cut() -> None:
    doc = rss("<guid>0</guid>&nbsp;", *(f"<guid>{n}</guid>" for n in range(1, 10)))
    scanned = scan_xml(doc, replace(LIMITS, max_items_read=3))
    assert scanned.items_cut and scanned.data.endswith(b"<item><guid>2</guid></item>")
    feed = parse_feed(doc, XML, BASE, replace(LIMITS, max_items_read=3))
    assert sorted(i.guid for i in feed.items) == ["0", "1", "2"]


def test_tag_openings_past_an_xml_error_count_against_the_element_cap() -> None:
    limits = replace(LIMITS, max_elements=100)
    assert scan_xml(rss("<guid>1</guid>&nbsp;" + "<x>" * 90), limits)
    refused(rss("<guid>1</guid>&nbsp;" + "<x>" * 100), limits)


def test_markup_inside_cdata_past_an_xml_error_is_not_counted_as_elements() -> None:
    html = "<p>" * 500
    doc = rss("<guid>1</guid>&nbsp;", f"<description><![CDATA[{html}]]></description>")
    assert scan_xml(doc, replace(LIMITS, max_elements=100))


def test_web_page_with_more_tags_than_the_element_cap_is_still_searched_for_feed_links() -> None:
    page = (
        '<!doctype html><html><head><link rel="alternate" type="application/rss+xml" '
        'href="/feed.xml"></head><body>' + "<p>x" * 300 + "</body></html>"
    ).encode()
    limits = replace(LIMITS, max_elements=100)
    outcome = read_document(page, {"Content-Type": "text/html"}, "https://site.example/", limits)
    assert outcome == PageLinks(["https://site.example/feed.xml"])

"""Caps on what a parsed feed stores: HTML values, URLs, guids, all items of one fetch."""

from __future__ import annotations

import json
from dataclasses import replace

from app.pipeline import FetchLimits, parse_feed
from app.pipeline.caps import HtmlCap, human_size, item_size, keep_within, utf8_size
from app.pipeline.items import MAX_URL_LENGTH, absolute_http_url

BASE = "https://feeds.example.com/feed.xml"
XML = {"Content-Type": "application/rss+xml"}
JSON_FEED = {"Content-Type": "application/feed+json"}


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{i}</item>" for i in items)
    return f'<rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def test_html_value_at_the_cap_is_kept_as_it_is() -> None:
    cap = HtmlCap(10)
    assert cap("<b>12</b>3") == "<b>12</b>3" and cap.cut == 0


def test_html_value_over_the_cap_is_cut_and_its_open_tags_closed() -> None:
    cap = HtmlCap(10)
    assert cap("<b>1234567890</b>") == "<b>123</b>"  # 10 bytes, end tag included
    assert cap.cut == 1


def test_html_value_cut_stays_within_the_cap_once_its_tags_are_closed() -> None:
    value = "<p><b><i>" + "w " * 100 + "</i></b></p>"
    cut = HtmlCap(50)(value)
    assert cut is not None and cut.endswith("</i></b></p>") and utf8_size(cut) <= 50


def test_html_value_is_cut_on_a_character_boundary() -> None:
    assert HtmlCap(5)("ééé") == "éé"  # 6 bytes: the third é would straddle the cut


def test_sizes_are_utf8_bytes() -> None:
    assert utf8_size("é") == 2 and utf8_size("e") == 1 and utf8_size(None) == 0
    assert human_size(512 * 1024) == "512 KiB" and human_size(300) == "300 bytes"


def test_url_at_the_length_cap_is_kept_and_one_longer_is_dropped() -> None:
    base = "https://example.com/"
    fits = base + "a" * (MAX_URL_LENGTH - len(base))
    assert absolute_http_url(fits, None) == fits
    assert absolute_http_url(fits + "a", None) is None


def test_relative_url_that_grows_past_the_cap_when_resolved_is_dropped() -> None:
    path = "a" * (MAX_URL_LENGTH - 10)
    assert absolute_http_url(path, "https://example.com/some/long/base/") is None


def test_plain_text_that_grows_when_escaped_is_stored_cut_to_the_field_cap() -> None:
    # 100 KB of "<" in a text value becomes 400 KB of "&lt;" as HTML.
    body = rss(f"<guid>1</guid><description><![CDATA[{'<' * 100_000}]]></description>")
    limits = replace(FetchLimits(), max_field_bytes=200_000)
    item = parse_feed(body, {"Content-Type": "application/rss+xml"}, BASE, limits).items[0]
    stored = item.summary_html or ""
    assert 0 < utf8_size(stored) <= 200_000


def test_item_content_cut_to_the_field_cap_is_said_in_the_warning() -> None:
    # 600 bytes of text in the document, 2400 of HTML once its "<" are escaped.
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id>'
        f'<content type="text"><![CDATA[{"<" * 600}]]></content></entry></feed>'
    ).encode()
    feed = parse_feed(body, XML, BASE, replace(FetchLimits(), max_field_bytes=1000))
    assert 0 < utf8_size(feed.items[0].content_html) <= 1000
    assert feed.warning is not None and "cut to 1000 bytes" in feed.warning


def test_items_within_the_stored_budget_are_all_kept() -> None:
    items = [f"<guid>{n}</guid><description>{'d' * 100}</description>" for n in range(3)]
    feed = parse_feed(rss(*items), XML, BASE)
    budget = sum(item_size(i) for i in feed.items)
    again = parse_feed(rss(*items), XML, BASE, replace(FetchLimits(), max_stored_bytes=budget))
    assert len(again.items) == 3 and again.warning is None


def test_items_past_the_stored_budget_are_left_out_oldest_first() -> None:
    items = [
        f"<guid>{n}</guid><pubDate>Mon, 0{n + 1} Jan 2024 00:00:00 GMT</pubDate>"
        f"<description>{'d' * 100}</description>"
        for n in range(3)
    ]
    feed = parse_feed(rss(*items), XML, BASE)
    budget = sum(item_size(i) for i in feed.items) - 1
    capped = parse_feed(rss(*items), XML, BASE, replace(FetchLimits(), max_stored_bytes=budget))
    assert [i.guid for i in capped.items] == ["2", "1"]
    assert capped.warning is not None and "1 older item(s) were left out" in capped.warning


def test_keep_within_counts_every_stored_text_field() -> None:
    feed = parse_feed(
        rss("<guid>g</guid><title>t</title><link>https://e.example/x</link>"), XML, BASE
    )
    item = feed.items[0]
    size = item_size(item)
    assert size == len(item.key) + len("g") + len("https://e.example/x") + len("t")
    assert keep_within([item], size) == ([item], 0)
    assert keep_within([item], size - 1) == ([], 1)


def json_feed(items: list[dict[str, object]]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()


def test_json_feed_reads_only_the_first_items_up_to_the_read_cap() -> None:
    body = json_feed([{"id": str(n), "content_text": "x"} for n in range(10)])
    limits = replace(FetchLimits(), max_items=3, max_items_read=5)
    feed = parse_feed(body, JSON_FEED, BASE, limits)
    assert [i.guid for i in feed.items] == ["0", "1", "2"]
    assert feed.warning is not None and "only the first 5 were read" in feed.warning


def test_json_feed_content_over_the_field_cap_is_cut() -> None:
    body = json_feed([{"id": "1", "content_html": "<p>" + "w " * 5000 + "</p>"}])
    feed = parse_feed(body, JSON_FEED, BASE, replace(FetchLimits(), max_field_bytes=1000))
    assert utf8_size(feed.items[0].content_html) <= 1000
    assert feed.warning is not None and "cut to" in feed.warning

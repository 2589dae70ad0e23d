"""Item keys, content hashes, dedupe and the item cap."""

from __future__ import annotations

from pathlib import Path

from app.pipeline import FetchLimits, parse_feed
from app.pipeline.items import MAX_GUID_LENGTH

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = "https://feeds.example.com/feed.xml"
XML = {"Content-Type": "application/rss+xml"}


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        + "".join(f"<item>{i}</item>" for i in items)
        + "</channel></rss>"
    ).encode()


def test_item_keys_are_stable_across_two_parses() -> None:
    body = (FIXTURES / "rss20.xml").read_bytes()
    first = [(i.key, i.content_hash) for i in parse_feed(body, XML, BASE).items]
    second = [(i.key, i.content_hash) for i in parse_feed(body, XML, BASE).items]
    assert first == second


def test_key_prefers_guid_then_link_then_hash() -> None:
    feed = parse_feed(
        rss(
            "<guid isPermaLink='false'>abc</guid><link>https://x.example/1</link><title>A</title>",
            "<link>https://x.example/2</link><title>B</title>",
            "<title>C</title><description>only text</description>",
        ),
        XML,
        BASE,
    )
    keys = {i.title: i.key for i in feed.items}
    assert keys["A"] == "guid:abc"
    assert keys["B"] == "link:https://x.example/2"
    assert keys["C"].startswith("hash:") and len(keys["C"]) == 5 + 64


def test_relative_guid_does_not_depend_on_the_document_url() -> None:
    body = rss("<guid>42</guid><title>A</title>")
    one = parse_feed(body, XML, "https://old.example.com/feed").items[0].key
    two = parse_feed(body, XML, "https://new.example.com/rss").items[0].key
    assert one == two == "guid:42"


def test_hash_key_is_stable_and_depends_on_title_date_and_content() -> None:
    a = parse_feed(rss("<title>Same</title><description>x</description>"), XML, BASE).items[0]
    b = parse_feed(rss("<title>Same</title><description>x</description>"), XML, BASE).items[0]
    c = parse_feed(rss("<title>Same</title><description>y</description>"), XML, BASE).items[0]
    assert a.key == b.key != c.key


def test_very_long_guid_is_hashed_into_a_bounded_key_and_stored_cut() -> None:
    item = parse_feed(rss(f"<guid isPermaLink='false'>{'g' * 3000}</guid>"), XML, BASE).items[0]
    assert item.key.startswith("guid:sha256:") and len(item.key) < 100
    assert item.guid == "g" * MAX_GUID_LENGTH


def test_guids_that_differ_past_the_stored_length_keep_different_keys() -> None:
    long = "g" * MAX_GUID_LENGTH
    one = parse_feed(rss(f"<guid isPermaLink='false'>{long}1</guid>"), XML, BASE).items[0]
    two = parse_feed(rss(f"<guid isPermaLink='false'>{long}2</guid>"), XML, BASE).items[0]
    assert one.guid == two.guid and one.key != two.key


def test_changed_item_gets_a_different_content_hash() -> None:
    before = parse_feed(rss("<guid>k</guid><title>Old title</title>"), XML, BASE).items[0]
    after = parse_feed(rss("<guid>k</guid><title>New title</title>"), XML, BASE).items[0]
    assert before.key == after.key
    assert before.content_hash != after.content_hash


def test_unchanged_item_keeps_its_content_hash_when_other_items_change() -> None:
    one = parse_feed(
        rss("<guid>k</guid><title>A</title>", "<guid>z</guid><title>1</title>"), XML, BASE
    ).items
    two = parse_feed(
        rss("<guid>k</guid><title>A</title>", "<guid>z</guid><title>2</title>"), XML, BASE
    ).items
    by_key = {i.key: i.content_hash for i in two}
    assert {i.key: i.content_hash for i in one}["guid:k"] == by_key["guid:k"]
    assert {i.key: i.content_hash for i in one}["guid:z"] != by_key["guid:z"]


def test_changed_date_changes_content_hash() -> None:
    a = parse_feed(
        rss("<guid>k</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate>"), XML, BASE
    ).items[0]
    b = parse_feed(
        rss("<guid>k</guid><pubDate>Tue, 02 Jan 2024 00:00:00 GMT</pubDate>"), XML, BASE
    ).items[0]
    assert a.content_hash != b.content_hash


def test_duplicate_keys_in_one_document_keep_the_first() -> None:
    feed = parse_feed(
        rss("<guid>dup</guid><title>First</title>", "<guid>dup</guid><title>Second</title>"),
        XML,
        BASE,
    )
    assert [i.title for i in feed.items] == ["First"]


def test_item_cap_keeps_the_newest() -> None:
    items = [
        f"<guid>{n}</guid><title>n{n}</title>"
        f"<pubDate>{day}, 0{n + 1} Jan 2024 00:00:00 GMT</pubDate>"
        for n, day in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri"])
    ]
    feed = parse_feed(rss(*items), XML, BASE, FetchLimits(max_items=2))
    assert [i.title for i in feed.items] == ["n4", "n3"]


def test_item_cap_without_dates_keeps_document_order() -> None:
    feed = parse_feed(
        rss(*(f"<guid>{n}</guid><title>n{n}</title>" for n in range(10))),
        XML,
        BASE,
        FetchLimits(max_items=3),
    )
    assert [i.title for i in feed.items] == ["n0", "n1", "n2"]


def test_non_http_item_link_is_dropped() -> None:
    item = parse_feed(rss("<title>x</title><link>javascript:alert(1)</link>"), XML, BASE).items[0]
    assert item.url is None and item.key.startswith("hash:")


def test_long_title_is_truncated() -> None:
    item = parse_feed(rss(f"<guid>t</guid><title>{'w' * 5000}</title>"), XML, BASE).items[0]
    assert item.title is not None and len(item.title) <= 1000

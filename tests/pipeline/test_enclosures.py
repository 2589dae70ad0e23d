"""Enclosures from each feed format: bytes in, clean url/type/length out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from app.pipeline import FetchLimits, ParsedFeed, parse_feed, read_bounded
from app.pipeline.enclosures import (
    MAX_ENCLOSURES,
    MAX_LENGTH,
    clean_length,
    clean_type,
    clean_url,
    enclosure_of,
)
from app.pipeline.items import make_item
from app.pipeline.models import Enclosure

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = "https://garden.example/feed.xml"


def _items(body: bytes, headers: dict[str, str] | None = None) -> dict[str, list[Enclosure]]:
    feed = parse_feed(body, headers or {}, BASE, FetchLimits())
    return {item.guid or "": item.enclosures for item in feed.items}


def test_rss_enclosure_and_media_content_are_read_in_order_without_repeats() -> None:
    found = _items((FIXTURES / "podcast-rss20.xml").read_bytes())["ep2"]
    assert found == [
        Enclosure("https://garden.example/episodes/ep2.mp3", "audio/mpeg", 48213000),
        Enclosure("https://cdn.garden.example/ep2.mp4", "video/mp4", 1234567),
    ]


def test_hostile_urls_bad_lengths_and_bad_types_are_dropped_or_cleared() -> None:
    found = _items((FIXTURES / "podcast-rss20.xml").read_bytes())["ep1"]
    assert found == [
        # Scheme and host lower-cased; a negative length is no length; parameters go.
        Enclosure("https://cdn.garden.example/ep1.ogg", "audio/ogg", None),
        # A length past MAX_LENGTH is not believed; "<script>" is no type: guessed from .pdf.
        Enclosure("https://garden.example/notes.pdf", "application/pdf", None),
    ]


def test_atom_link_rel_enclosure_is_read() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><id>urn:1</id><title>a</title><updated>2026-11-02T10:00:00Z</updated>
    <link rel="enclosure" href="talk.m4a" type="audio/mp4" length="2048"/></entry></feed>"""
    assert _items(atom)["urn:1"] == [
        Enclosure("https://garden.example/talk.m4a", "audio/mp4", 2048)
    ]


def test_media_content_without_a_type_takes_it_from_the_extension() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
    <channel><title>t</title><item><guid>m</guid><title>v</title>
    <media:group><media:content url="https://v.example/clip.webm" fileSize="77"/></media:group>
    </item></channel></rss>"""
    assert _items(rss)["m"] == [Enclosure("https://v.example/clip.webm", "video/webm", 77)]


def test_json_feed_attachments_are_read() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [
            {
                "id": "j1",
                "content_text": "x",
                "attachments": [
                    {"url": "/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1000},
                    {"url": "javascript:alert(1)", "mime_type": "audio/mpeg"},
                    {"url": "https://e.example/b.mp3", "size_in_bytes": True},
                    "not an object",
                    {"url": ["https://e.example/c.mp3"]},
                ],
            }
        ],
    }
    body = json.dumps(document).encode()
    assert _items(body, {"Content-Type": "application/feed+json"})["j1"] == [
        Enclosure("https://garden.example/a.mp3", "audio/mpeg", 1000),
        Enclosure("https://e.example/b.mp3", "audio/mpeg", None),
    ]


def test_an_item_keeps_at_most_max_enclosures() -> None:
    links = "".join(
        f'<enclosure url="https://e.example/{n}.mp3" type="audio/mpeg" length="1"/>'
        for n in range(MAX_ENCLOSURES * 3)
    )
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><guid>many</guid><title>m</title>{links}</item></channel></rss>""".encode()
    found = _items(rss)["many"]
    assert [e.url for e in found] == [f"https://e.example/{n}.mp3" for n in range(MAX_ENCLOSURES)]


def test_huge_and_non_http_urls_never_come_out() -> None:
    assert clean_url("https://e.example/" + "a" * 5000, None) is None
    assert clean_url("ftp://e.example/a.mp3", None) is None
    assert clean_url("https://e.example/a b.mp3", None) is None
    assert clean_url("https://e.example/a\x00.mp3", None) is None
    assert clean_url('https://e.example/"><script>', None) is None
    assert clean_url("https://user:secret@E.example/a.mp3", None) == "https://e.example/a.mp3"
    assert enclosure_of("vbscript:x", "audio/mpeg", "1", BASE) is None


def test_lengths_must_be_believable_byte_counts() -> None:
    assert [clean_length(v) for v in ("123", " 7 ", 5, 5.0)] == [123, 7, 5, 5]
    assert [clean_length(v) for v in ("0", "-1", "1e9", "12 MB", None, True, MAX_LENGTH + 1)] == [
        None
    ] * 7


def test_types_must_look_like_mime_types() -> None:
    assert clean_type("Audio/MPEG; charset=x") == "audio/mpeg"
    assert [clean_type(v) for v in ("audio", "<b>/x", "a/b c", "", 7)] == [None] * 5


def _item(enclosures: list[Enclosure] | None) -> str:
    return make_item(
        guid="g",
        url=None,
        title="t",
        author=None,
        summary_html=None,
        content_html=None,
        published_at=None,
        updated_at=None,
        enclosures=enclosures,
    ).content_hash


def test_the_content_hash_changes_with_the_enclosures_only_when_there_are_some() -> None:
    episode = Enclosure("https://e.example/a.mp3", "audio/mpeg", 1)
    assert _item(None) == _item([])
    assert _item([episode]) != _item([])
    assert _item([episode]) != _item([replace(episode, length=2)])


def test_enclosures_and_the_icon_cross_the_parser_process(limits: FetchLimits) -> None:
    body = (FIXTURES / "podcast-rss20.xml").read_bytes()
    feed = read_bounded(body, {}, BASE, replace(limits, parser_processes=1))
    assert isinstance(feed, ParsedFeed)
    assert feed.items[0].enclosures[0].url == "https://garden.example/episodes/ep2.mp3"
    assert feed.icon_url == "https://garden.example/artwork/icon.png"

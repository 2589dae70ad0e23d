"""Enclosures and feed icons in a real Chromium: a podcast's player in the reading pane,
the feed's icon (fetched by the worker from the loopback feed server) in the sidebar."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import pytest

from tests.browser.conftest import PageProbe
from tests.conftest import wait_for
from tests.feedserver import FeedServer

pytestmark = pytest.mark.browser


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


def png(size: int = 16) -> bytes:
    """A real, decodable square PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x2a\x80\x3c" * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def podcast() -> str:
    return """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Garden Talk</title><link>/</link>
<image><url>/artwork.png</url><title>Garden Talk</title><link>/</link></image>
<item><title>Episode 1: compost</title><guid>ep1</guid>
<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>
<description>Show notes.</description>
<enclosure url="/episodes/ep1.mp3" length="48213000" type="audio/mpeg"/>
</item></channel></rss>"""


def test_the_pane_plays_a_podcast_episode_and_the_sidebar_shows_the_feeds_icon(
    page: PageProbe, feed_server: FeedServer
) -> None:
    feed_server.add("/artwork.png", png(), content_type="image/png")
    feed_server.add("/episodes/ep1.mp3", b"ID3" + b"\x00" * 100, content_type="audio/mpeg")
    url = feed_server.add("/podcast.xml", podcast())
    page.goto("/feeds")
    page.page.get_by_label("Feed or site address").fill(url)
    page.page.get_by_role("button", name="Add feed").click()
    page.page.wait_for_url(re.compile(r"/feeds/\d+$"))
    feed_id = int(page.page.url.rsplit("/", 1)[1])
    _expect(page.page.locator("#feed-live .js-badge")).to_have_text("OK", timeout=20_000)
    # The worker looks for the icon once the fetch is recorded: the river shows it then.
    wait_for(lambda: feed_server.hits("/artwork.png") == 1, timeout=20)

    def icon_shown() -> bool:
        page.goto("/")
        src = page.page.locator(".sidebar img.feed-icon").first.get_attribute("src") or ""
        return src.startswith(f"/feeds/{feed_id}/icon?v=")

    wait_for(icon_shown, timeout=20, interval=0.5)
    sidebar_icon = page.page.locator(".sidebar img.feed-icon").first
    river_icon = page.page.locator("li.entry img.feed-icon").first
    _expect(sidebar_icon).to_be_visible()
    # loading="lazy": the browser fetches and decodes the icon after the page; a 16-pixel
    # wide image is our PNG served and decoded (a broken one has no width).
    for icon in (sidebar_icon, river_icon):
        wait_for(lambda icon=icon: _loaded_width(icon) == 16, timeout=20, interval=0.2)

    page.page.keyboard.press("j")
    player = page.page.locator("#pane audio")
    _expect(player).to_have_count(1)
    _expect(player).to_have_attribute("src", feed_server.url("/episodes/ep1.mp3"))
    _expect(player).to_have_attribute("preload", "none")
    assert player.evaluate("(audio) => audio.controls") is True
    _expect(page.page.locator("#pane .enclosure")).to_contain_text("audio/mpeg · 48.2 MB")
    # preload="none": nothing is downloaded until the person presses play.
    assert feed_server.hits("/episodes/ep1.mp3") == 0
    page.shot("reading-pane-podcast")


def _loaded_width(image: Any) -> int:
    """The natural width of a loaded image, 0 while it loads or when it is broken."""
    return int(image.evaluate("(img) => img.complete ? img.naturalWidth : 0"))

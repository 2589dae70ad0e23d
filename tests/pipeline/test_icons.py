"""Feed icons: where a feed names its icon, what a home page declares, sniffing, and the
guarded download with its size cap (loopback server only)."""

from __future__ import annotations

import json
import struct
from dataclasses import replace

import pytest

from app.pipeline import FetchLimits, check_url_allowed, parse_feed
from app.pipeline.errors import FetchError
from app.pipeline.iconlinks import page_icon_links
from app.pipeline.icons import HostBusy, NoIcon, favicon_url, find_icon
from app.pipeline.imagesniff import sniff_image_type
from tests.feedserver import Response

BASE = "https://site.example/feed"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
ICO = b"\x00\x00\x01\x00\x01\x00" + b"\x10\x10\x00\x00\x01\x00\x20\x00" + b"\x00" * 40
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
WEBP = b"RIFF" + struct.pack("<I", 40) + b"WEBPVP8 " + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def test_rss_image_url_is_the_feed_icon() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <image><url>/i.png</url><title>t</title><link>https://site.example/</link></image>
    </channel></rss>"""
    assert parse_feed(rss, {}, BASE).icon_url == "https://site.example/i.png"


def test_atom_icon_wins_over_logo() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <logo>https://site.example/logo.png</logo><icon>/favicon.png</icon></feed>"""
    assert parse_feed(atom, {}, BASE).icon_url == "https://site.example/favicon.png"


def test_atom_logo_alone_is_the_icon() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <logo>https://site.example/logo.png</logo></feed>"""
    assert parse_feed(atom, {}, BASE).icon_url == "https://site.example/logo.png"


def test_json_feed_favicon_wins_over_icon() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "icon": "https://site.example/big.png",
        "favicon": "/small.png",
        "items": [],
    }
    feed = parse_feed(
        json.dumps(document).encode(), {"Content-Type": "application/feed+json"}, BASE
    )
    assert feed.icon_url == "https://site.example/small.png"


def test_a_non_http_icon_is_no_icon() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <icon>javascript:alert(1)</icon></feed>"""
    assert parse_feed(atom, {}, BASE).icon_url is None


def test_home_page_icons_best_first_svg_and_body_skipped() -> None:
    page = b"""<!doctype html><html><head><base href="/static/">
    <link rel="apple-touch-icon" href="touch.png">
    <link rel="icon" type="image/svg+xml" href="i.svg">
    <link rel="mask-icon" href="mask.svg" color="#000">
    <link rel="Shortcut Icon" href="favicon.ico">
    <link rel="icon" href="javascript:alert(1)">
    </head><body><link rel="icon" href="/late.png"></body></html>"""
    assert page_icon_links(page, "https://site.example/") == [
        "https://site.example/static/favicon.ico",
        "https://site.example/static/touch.png",
    ]


@pytest.mark.parametrize(
    ("body", "kind"),
    [(PNG, "image/png"), (ICO, "image/x-icon"), (GIF, "image/gif"), (JPEG, "image/jpeg"),
     (WEBP, "image/webp")],
)  # fmt: skip
def test_raster_images_are_recognised_by_their_bytes(body: bytes, kind: str) -> None:
    assert sniff_image_type(body) == kind


@pytest.mark.parametrize("body", [SVG, b"<html></html>", b"", b"\x00\x00\x01\x00\x00\x00"])
def test_svg_html_and_truncated_bytes_are_no_image(body: bytes) -> None:
    assert sniff_image_type(body) is None


def test_favicon_url_is_at_the_site_root() -> None:
    assert favicon_url("https://site.example:8443/blog/?x=1") == (
        "https://site.example:8443/favicon.ico"
    )


def test_the_declared_icon_is_downloaded_and_sniffed(server, limits: FetchLimits) -> None:
    # Served with a wrong type on purpose: the bytes decide.
    icon_url = server.add("/i.png", PNG, content_type="text/plain")
    icon = find_icon(icon_url, None, server.url("/feed"), limits, max_bytes=1024)
    assert (icon.url, icon.content_type, icon.body) == (icon_url, "image/png", PNG)
    assert len(icon.sha256) == 64


def test_the_home_page_icon_comes_before_favicon_ico(server, limits: FetchLimits) -> None:
    site = server.add(
        "/", b'<html><head><link rel="icon" href="/p.gif"></head>', content_type="text/html"
    )
    server.add("/p.gif", GIF, content_type="image/gif")
    server.add("/favicon.ico", ICO, content_type="image/x-icon")
    icon = find_icon(None, site, server.url("/feed"), limits, max_bytes=1024)
    assert icon.content_type == "image/gif"
    assert server.hits("/favicon.ico") == 0


def test_favicon_ico_is_the_last_resort(server, limits: FetchLimits) -> None:
    server.add("/favicon.ico", ICO, content_type="image/x-icon")
    declared = server.add("/missing.png", b"gone", status=404, content_type="text/plain")
    icon = find_icon(declared, None, server.url("/feed"), limits, max_bytes=1024)
    assert icon.url == server.url("/favicon.ico") and icon.content_type == "image/x-icon"


def test_an_icon_over_the_size_cap_is_refused(server, limits: FetchLimits) -> None:
    declared = server.add("/big.png", PNG + b"\x00" * 2000, content_type="image/png")
    with pytest.raises(NoIcon) as info:
        find_icon(declared, None, server.url("/feed"), limits, max_bytes=1024)
    assert server.hits("/big.png") == 1 and server.hits("/favicon.ico") == 1
    assert "404" in info.value.message or "Not Found" in info.value.message


def test_the_size_cap_counts_the_body_not_only_the_header(server, limits: FetchLimits) -> None:
    # No Content-Length to believe: the chunked body is counted as it arrives.

    server.route("/chunked.png", lambda _r: Response(200, iter([PNG, b"\x00" * 4096])))
    with pytest.raises(NoIcon):
        find_icon(server.url("/chunked.png"), None, server.url("/f"), limits, max_bytes=1024)


def test_svg_and_html_served_as_images_are_refused(server, limits: FetchLimits) -> None:
    declared = server.add("/i.svg", SVG, content_type="image/svg+xml")
    server.add("/favicon.ico", b"<html>not found</html>", content_type="image/x-icon")
    with pytest.raises(NoIcon) as info:
        find_icon(declared, None, server.url("/feed"), limits, max_bytes=1024)
    assert "not a PNG, GIF, JPEG, ICO or WebP image" in info.value.message


def test_an_icon_on_a_private_address_is_refused_by_the_guard() -> None:
    # The guard's decision, without connecting: a literal private address is refused
    # before any DNS lookup or socket.
    guarded = FetchLimits()
    with pytest.raises(FetchError) as info:
        check_url_allowed("http://10.1.2.3/icon.png", guarded)
    assert info.value.code == "blocked_address"
    with pytest.raises(NoIcon) as refused:
        find_icon(
            "http://10.1.2.3/icon.png", "http://192.168.1.1/", "http://169.254.169.254/feed",
            guarded, max_bytes=1024,
        )  # fmt: skip
    assert "private" in refused.value.message.lower() or "blocked" in refused.value.message.lower()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "[::ffff:127.0.0.1]", "localhost"])
def test_loopback_icons_are_refused_before_any_request(server, host: str) -> None:
    server.add("/i.png", PNG, content_type="image/png")
    server.add("/favicon.ico", ICO, content_type="image/x-icon")
    guarded = FetchLimits(deadline=5.0, connect_timeout=2.0)
    with pytest.raises(NoIcon):
        find_icon(server.url("/i.png", host=host), None, server.url("/feed", host=host), guarded,
                  max_bytes=1024)  # fmt: skip
    assert server.hits("/i.png") == 0 and server.hits("/favicon.ico") == 0


def test_the_search_shares_one_deadline_and_download_budget(server, limits: FetchLimits) -> None:
    page = b"".join(b'<link rel="icon" href="/x%d.png">' % n for n in range(10))
    site = server.add("/", b"<html><head>" + page + b"</head>", content_type="text/html")
    for n in range(10):
        server.add(f"/x{n}.png", b"nope", content_type="image/png")
    with pytest.raises(NoIcon):
        find_icon(None, site, server.url("/feed"), replace(limits, deadline=5.0), max_bytes=1024)
    assert len(server.requests) == 4  # the page and three icons: MAX_DOWNLOADS


def test_each_download_is_admitted_by_its_host_first(server, limits: FetchLimits) -> None:
    site = server.add(
        "/", b'<html><head><link rel="icon" href="/p.gif"></head>', content_type="text/html"
    )
    server.add("/p.gif", GIF, content_type="image/gif")
    declared = server.url("/gone.png", host="localhost")  # another host than the site's
    asked: list[str] = []

    def admit(host: str) -> bool:
        asked.append(host)
        return True

    find_icon(declared, site, server.url("/feed"), limits, max_bytes=1024, admit=admit)
    assert asked == ["localhost", "127.0.0.1", "127.0.0.1"]  # before each download


def test_a_host_not_admitted_stops_the_search_before_any_request(
    server, limits: FetchLimits
) -> None:
    server.add("/i.png", PNG, content_type="image/png")
    server.add("/favicon.ico", ICO, content_type="image/x-icon")
    with pytest.raises(HostBusy) as info:
        find_icon(
            server.url("/i.png"), None, server.url("/feed"), limits, max_bytes=1024,
            admit=lambda _host: False,
        )  # fmt: skip
    assert info.value.host == "127.0.0.1" and server.requests == []

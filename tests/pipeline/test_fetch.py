"""fetch_feed end to end: parse, skip unchanged, and discover feeds behind HTML pages."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from app.pipeline import FetchError, Validators, fetch_feed
from tests.feedserver import Request, Response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HTML = "text/html; charset=utf-8"


def test_fetch_returns_parsed_feed_and_validators(server, limits) -> None:
    url = server.add_fixture(
        "/feed.xml",
        "rss20.xml",
        headers={"ETag": '"abc"', "Last-Modified": "Tue, 02 Jan 2024 10:00:00 GMT"},
    )
    result = fetch_feed(url, limits)
    assert result.status == 200 and not result.not_modified
    assert result.feed is not None and result.feed.format == "rss20"
    assert [i.title for i in result.feed.items][0] == "Newer post"
    assert (result.etag, result.last_modified) == ('"abc"', "Tue, 02 Jan 2024 10:00:00 GMT")
    body = (FIXTURES / "rss20.xml").read_bytes()
    assert result.content_hash == hashlib.sha256(body).hexdigest()
    assert result.bytes_downloaded == len(body)
    assert result.final_url == url and result.discovered_url is None
    assert result.elapsed > 0


def test_relative_links_resolve_against_the_final_url_after_redirects(server, limits) -> None:
    server.route("/moved", lambda _r: Response(302, b"", {"Location": "/sub/feed.xml"}))
    server.add_fixture("/sub/feed.xml", "rss20.xml")
    result = fetch_feed(server.url("/moved"), limits)
    assert result.feed is not None
    older = next(i for i in result.feed.items if i.guid == "post-1")
    assert older.url == server.url("/posts/older")


def test_304_skips_parsing(server, limits) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, b"")
        return Response(200, (FIXTURES / "rss20.xml").read_bytes(), {"ETag": '"v1"'})

    url = server.route("/feed", handler)
    first = fetch_feed(url, limits)
    second = fetch_feed(url, limits, Validators(etag=first.etag, content_hash=first.content_hash))
    assert second.status == 304 and second.not_modified and second.feed is None
    assert second.etag == '"v1"' and second.content_hash == first.content_hash


def test_unchanged_body_hash_skips_parsing(server, limits) -> None:
    url = server.add_fixture("/feed", "atom10.xml")
    first = fetch_feed(url, limits)
    second = fetch_feed(url, limits, Validators(content_hash=first.content_hash))
    assert second.status == 200 and second.not_modified and second.feed is None


def test_html_page_with_feed_links_is_discovered(server, limits) -> None:
    page = server.add_fixture("/blog/", "page_with_feeds.html", content_type=HTML)
    server.add_fixture("/feed.atom", "atom10.xml", content_type="application/atom+xml")
    server.add_fixture("/blog/feed.rss", "rss20.xml")
    result = fetch_feed(page, limits)
    # Atom comes first in the page; the plain application/json link is tried last.
    assert result.discovered_url == server.url("/feed.atom")
    assert result.permanent_url == server.url("/feed.atom")
    assert result.final_url == server.url("/feed.atom")
    assert result.requested_url == page
    assert result.feed is not None and result.feed.format == "atom10"
    assert server.hits("/api.json") == 0


def test_discovered_feed_that_redirects_temporarily_stores_the_link(server, limits) -> None:
    server.add(
        "/page",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head></html>',
        content_type=HTML,
    )
    server.route("/feed", lambda _r: Response(302, b"", {"Location": "/feed-today"}))
    server.add_fixture("/feed-today", "rss20.xml")
    result = fetch_feed(server.url("/page"), limits)
    assert result.discovered_url == server.url("/feed")
    assert result.permanent_url == server.url("/feed")
    assert result.final_url == server.url("/feed-today")


def test_html_page_without_feed_links_is_not_a_feed(server, limits) -> None:
    url = server.add_fixture("/plain.html", "page_without_feeds.html", content_type=HTML)
    with pytest.raises(FetchError) as info:
        fetch_feed(url, limits)
    assert info.value.code == "not_a_feed" and not info.value.transient
    assert "links to no" in info.value.message


def test_discovery_does_not_follow_a_second_html_page(server, limits) -> None:
    link = '<html><head><link rel="alternate" type="application/rss+xml" href="{}"></head></html>'
    server.add("/one", link.format("/two"), content_type=HTML)
    server.add("/two", link.format("/three"), content_type=HTML)
    server.add_fixture("/three", "rss20.xml")
    with pytest.raises(FetchError) as info:
        fetch_feed(server.url("/one"), limits)
    assert info.value.code == "not_a_feed"
    assert server.hits("/three") == 0


def test_discovered_link_is_checked_by_the_guard(server, guarded) -> None:
    limits = replace(guarded, allowed_hosts=frozenset({"localhost"}))
    server.add(
        "/page",
        '<html><head><link rel="alternate" type="application/atom+xml" '
        f'href="{server.url("/feed")}"></head></html>',
        content_type=HTML,
    )
    server.add_fixture("/feed", "atom10.xml")
    with pytest.raises(FetchError) as info:
        fetch_feed(server.url("/page", host="localhost"), limits)
    assert info.value.code == "blocked_address"
    assert server.hits("/feed") == 0


def test_discovery_shares_the_deadline_of_the_fetch(server, limits) -> None:
    server.add(
        "/page",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/slow"></head></html>',
        content_type=HTML,
        delay=0.6,
    )
    server.add_fixture("/slow", "rss20.xml", delay=0.6)
    with pytest.raises(FetchError) as info:
        fetch_feed(server.url("/page"), replace(limits, deadline=1.0))
    assert info.value.code == "timeout"


def test_json_feed_is_fetched_and_parsed(server, limits) -> None:
    url = server.add_fixture("/feed.json", "jsonfeed11.json", content_type="application/feed+json")
    result = fetch_feed(url, limits)
    assert result.feed is not None and result.feed.format == "json11"
    assert result.feed.items[0].url == server.url("/posts/2")


def test_cache_control_max_age_is_reported(server, limits) -> None:
    url = server.add_fixture("/feed", "rss20.xml", headers={"Cache-Control": "max-age=1800"})
    assert fetch_feed(url, limits).cache_max_age == 1800


def test_item_cap_from_limits_is_applied(server, limits) -> None:
    url = server.add_fixture("/feed", "rss20.xml")
    result = fetch_feed(url, replace(limits, max_items=1))
    assert result.feed is not None and [i.title for i in result.feed.items] == ["Newer post"]


def test_errors_from_download_reach_the_caller_unchanged(server, limits) -> None:
    with pytest.raises(FetchError) as info:
        fetch_feed(server.url("/nope"), limits)
    assert info.value.code == "http_404"


def test_not_a_feed_document_is_reported(server, limits) -> None:
    url = server.add("/data.xml", "<?xml version='1.0'?><catalog/>", content_type="text/xml")
    with pytest.raises(FetchError) as info:
        fetch_feed(url, limits)
    assert info.value.code == "not_a_feed"

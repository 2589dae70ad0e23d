"""WebSub in the pipeline: hub discovery, signatures, and the guard on requests to hubs."""

from __future__ import annotations

import json

import pytest

from app.pipeline import FetchError, FetchLimits, fetch_feed, parse_feed
from app.pipeline.websub import (
    choose_hub,
    hub_request,
    link_header_rels,
    sign,
    signature_valid,
)
from tests.feedserver import FeedServer, Request, Response

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Pushed</title>
  <link rel="hub" href="https://hub.example/"/>
  <link rel="self" href="https://blog.example/feed.atom"/>
  <link rel="alternate" href="https://blog.example/"/>
  <id>urn:x</id><updated>2026-11-30T10:00:00Z</updated>
  <entry><id>urn:1</id><title>One</title><updated>2026-11-30T10:00:00Z</updated></entry>
</feed>"""

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>R</title><link>https://r.example/</link><description>d</description>
  <atom:link rel="hub" href="/hub"/>
  <atom:link rel="self" href="https://r.example/rss" type="application/rss+xml"/>
  <item><guid>1</guid><title>One</title></item>
</channel></rss>"""

PLAIN_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>
<item><guid>1</guid><title>One</title></item></channel></rss>"""


def test_atom_links_name_the_hub_and_self_url() -> None:
    feed = parse_feed(ATOM, {"content-type": "application/atom+xml"}, "https://blog.example/x")
    assert feed.hub_urls == ["https://hub.example/"]
    assert feed.self_url == "https://blog.example/feed.atom"


def test_rss_atom_links_name_the_hub_resolved_against_the_feed() -> None:
    feed = parse_feed(RSS, {"content-type": "application/rss+xml"}, "https://r.example/rss")
    assert feed.hub_urls == ["https://r.example/hub"]
    assert feed.self_url == "https://r.example/rss"


def test_json_feed_hubs_name_the_hub_and_feed_url_the_topic() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "feed_url": "https://j.example/feed.json",
        "hubs": [{"type": "rssCloud", "url": "https://cloud.example/"},
                 {"type": "WebSub", "url": "https://hub.example/websub"}],
        "items": [{"id": "1", "content_text": "x"}],
    }  # fmt: skip
    feed = parse_feed(json.dumps(document).encode(), {"content-type": "application/feed+json"},
                      "https://j.example/other")  # fmt: skip
    assert feed.hub_urls == ["https://hub.example/websub"]
    assert feed.self_url == "https://j.example/feed.json"


def test_a_feed_without_hub_names_none() -> None:
    feed = parse_feed(PLAIN_RSS, {}, "https://p.example/rss")
    assert feed.hub_urls == [] and feed.self_url is None
    assert choose_hub({}, feed.hub_urls, feed.self_url, "https://p.example/rss") is None


def test_link_header_relations_are_read_with_quotes_several_rels_and_relative_urls() -> None:
    header = '</hub>; rel="hub", <https://s.example/feed>; rel=self, <https://x/>; rel="a b"'
    rels = link_header_rels(header, "https://s.example/feed?x")
    assert rels["hub"] == ["https://s.example/hub"]
    assert rels["self"] == ["https://s.example/feed"]
    assert rels["a"] == rels["b"] == ["https://x/"]


def test_link_headers_win_over_the_document() -> None:
    headers = {"link": '<https://header-hub.example/>; rel="hub", <https://t.example/>; rel="self"'}
    chosen = choose_hub(headers, ["https://doc-hub.example/"], "https://doc.example/", "https://f/")
    assert chosen is not None
    assert (chosen.hub_url, chosen.topic_url) == (
        "https://header-hub.example/",
        "https://t.example/",
    )


def test_without_a_self_url_the_topic_is_the_fetched_address() -> None:
    chosen = choose_hub({}, ["https://hub.example/"], None, "https://f.example/feed")
    assert chosen is not None and chosen.topic_url == "https://f.example/feed"


def test_only_http_hub_addresses_are_kept() -> None:
    rels = link_header_rels('<javascript:alert(1)>; rel="hub", <ftp://h/>; rel="hub"', "https://f/")
    assert "hub" not in rels


def test_fetch_feed_reports_the_hub_from_the_servers_link_header(
    server: FeedServer, limits: FetchLimits
) -> None:
    hub = "http://127.0.0.1:9/hub"
    url = server.add("/feed", PLAIN_RSS, headers={"Link": f'<{hub}>; rel="hub"'})
    result = fetch_feed(url, limits)
    assert (result.hub_url, result.topic_url) == (hub, url)


def test_fetch_feed_reports_no_hub_for_a_feed_without_one(
    server: FeedServer, limits: FetchLimits
) -> None:
    result = fetch_feed(server.add("/feed", PLAIN_RSS), limits)
    assert result.hub_url is None and result.topic_url is None


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_each_signature_method_of_the_spec_is_accepted(method: str) -> None:
    body = b"<feed/>"
    assert signature_valid("s3cret", body, sign("s3cret", body, method))


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256", "sha256=", "md5=abc", "sha256=00", sign("other", b"<feed/>"),
     sign("s3cret", b"<feed>changed</feed>")],
)  # fmt: skip
def test_a_missing_malformed_or_wrong_signature_is_refused(header: str | None) -> None:
    assert not signature_valid("s3cret", b"<feed/>", header)


def test_signature_method_names_are_case_insensitive() -> None:
    assert signature_valid("k", b"x", sign("k", b"x").replace("sha256", "SHA256"))


# -- requests to hubs: the fetch guard applies ------------------------------------------


@pytest.mark.parametrize(
    "hub",
    ["http://10.0.0.1/hub", "http://169.254.169.254/latest", "http://[fd00::1]/",
     "http://localhost:8080/hub", "http://127.0.0.1:8080/hub"],
)  # fmt: skip
def test_a_hub_on_a_private_or_local_address_is_refused_before_connecting(
    hub: str, guarded: FetchLimits
) -> None:
    with pytest.raises(FetchError) as info:
        hub_request(hub, {"hub.mode": "subscribe"}, guarded)
    assert info.value.code == "blocked_address"


def test_a_hub_name_resolving_to_a_private_address_is_refused(
    fake_dns, guarded: FetchLimits
) -> None:
    fake_dns({"hub.example": ["192.168.1.10"]})
    with pytest.raises(FetchError) as info:
        hub_request("https://hub.example/", {"hub.mode": "subscribe"}, guarded)
    assert info.value.code == "blocked_address"


def test_a_hub_on_a_mail_port_is_refused(guarded: FetchLimits) -> None:
    with pytest.raises(FetchError) as info:
        hub_request("http://93.184.216.34:25/", {"hub.mode": "subscribe"}, guarded)
    assert info.value.code == "blocked_address"


def test_a_hub_request_posts_the_form_and_returns_the_hubs_status(
    server: FeedServer, limits: FetchLimits
) -> None:
    seen: list[Request] = []

    def hub(request: Request) -> Response:
        seen.append(request)
        return Response(202)

    url = server.route("/hub", hub)
    assert hub_request(url, {"hub.mode": "subscribe", "hub.topic": "t"}, limits) == 202
    assert seen and seen[0].method == "POST"


def test_a_hub_that_refuses_raises_its_http_status(server: FeedServer, limits: FetchLimits) -> None:
    url = server.add("/hub", b"no", status=400, content_type="text/plain")
    with pytest.raises(FetchError) as info:
        hub_request(url, {"hub.mode": "subscribe"}, limits)
    assert info.value.code == "http_400"


def test_a_hub_redirect_is_not_followed(server: FeedServer, limits: FetchLimits) -> None:
    url = server.add("/hub", b"", status=307, headers={"Location": "http://10.0.0.1/"})
    with pytest.raises(FetchError) as info:
        hub_request(url, {"hub.mode": "subscribe"}, limits)
    assert info.value.code == "http_307"

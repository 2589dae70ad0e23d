"""The guard end to end, against the loopback server only.

Refusals are proven with loopback spellings and the guard on (the server must see no
request); pinning is proven with fake DNS names that resolve to the loopback server.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from app.pipeline import FetchError, download, fetch_feed
from tests.feedserver import Response

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'

SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "LOCALHOST.",
]


@pytest.mark.parametrize("host", SPELLINGS)
def test_loopback_in_any_spelling_is_refused_before_any_request(server, guarded, host) -> None:
    server.add("/feed", RSS)
    with pytest.raises(FetchError) as info:
        fetch_feed(server.url("/feed", host=host), guarded)
    assert info.value.code == "blocked_address"
    assert server.hits("/feed") == 0


def test_host_name_resolving_to_loopback_is_refused(server, guarded, fake_dns) -> None:
    fake_dns({"sneaky.example": ["127.0.0.1"]})
    server.add("/feed", RSS)
    with pytest.raises(FetchError) as info:
        download(server.url("/feed", host="sneaky.example"), guarded)
    assert info.value.code == "blocked_address"
    assert "sneaky.example" in info.value.message
    assert server.hits("/feed") == 0


def test_allowed_host_redirecting_to_unlisted_loopback_address_is_refused(server, guarded) -> None:
    limits = replace(guarded, allowed_hosts=frozenset({"localhost"}))
    server.route("/start", lambda _r: Response(302, b"", {"Location": server.url("/feed")}))
    server.add("/feed", RSS)
    with pytest.raises(FetchError) as info:
        download(server.url("/start", host="localhost"), limits)
    assert info.value.code == "blocked_address"
    assert server.hits("/start") == 1  # the allow-listed host itself was fetched
    assert server.hits("/feed") == 0  # the redirect target was refused before connecting


def test_allowed_host_is_fetched_with_the_guard_on(server, guarded) -> None:
    server.add("/feed", RSS)
    limits = replace(guarded, allowed_hosts=frozenset({"localhost"}))
    assert download(server.url("/feed", host="localhost"), limits).body == RSS


def test_connection_goes_to_the_checked_address_with_the_original_host_header(
    server, limits, fake_dns
) -> None:
    # First answer: the test server. Any later answer: 127.0.0.2, where nothing listens.
    # Success therefore proves the connection used the address from the single lookup.
    lookups = fake_dns({"feed.example": ["127.0.0.1", "127.0.0.2"]})
    server.add("/feed", RSS)
    result = download(server.url("/feed", host="feed.example"), limits)
    assert result.body == RSS
    assert lookups == ["feed.example"]
    assert server.requests[-1].headers["host"] == f"feed.example:{server.port}"


def test_each_redirect_hop_is_resolved_once_and_pinned(server, limits, fake_dns) -> None:
    lookups = fake_dns(
        {"a.example": ["127.0.0.1", "127.0.0.2"], "b.example": ["127.0.0.1", "127.0.0.2"]}
    )
    server.route(
        "/a", lambda _r: Response(301, b"", {"Location": server.url("/b", host="b.example")})
    )
    server.add("/b", RSS)
    result = download(server.url("/a", host="a.example"), limits)
    assert result.body == RSS and result.permanent_url == server.url("/b", host="b.example")
    assert lookups == ["a.example", "b.example"]
    assert server.requests[-1].headers["host"] == f"b.example:{server.port}"


def test_session_adapters_cannot_bypass_the_guard(server, guarded) -> None:
    session = requests.Session()
    session.headers["X-From-Session"] = "yes"
    server.add("/feed", RSS)
    with pytest.raises(FetchError) as info:
        download(server.url("/feed"), guarded, session=session)
    assert info.value.code == "blocked_address"
    assert server.hits("/feed") == 0


def test_session_default_headers_are_sent(server, limits) -> None:
    session = requests.Session()
    session.headers["X-From-Session"] = "yes"
    download(server.add("/feed", RSS), limits, session=session)
    assert server.requests[-1].headers["x-from-session"] == "yes"


# -- TLS: certificate and SNI are checked against the host name, not the pinned IP -----------


def test_https_to_pinned_address_verifies_certificate_for_host_name(
    tls_server, tls_files, limits, fake_dns
) -> None:
    srv, sni_seen = tls_server
    fake_dns({"feed.test": ["127.0.0.1"]})
    srv.add("/feed", RSS)
    session = requests.Session()
    session.verify = str(tls_files["ca"])
    result = download(srv.url("/feed", host="feed.test"), limits, session=session)
    assert result.body == RSS
    assert sni_seen == ["feed.test"]
    assert srv.requests[-1].headers["host"] == f"feed.test:{srv.port}"


def test_https_certificate_for_another_name_is_a_tls_error(
    tls_server, tls_files, limits, fake_dns
) -> None:
    srv, _ = tls_server
    fake_dns({"other.test": ["127.0.0.1"]})
    srv.add("/feed", RSS)
    session = requests.Session()
    session.verify = str(tls_files["ca"])
    with pytest.raises(FetchError) as info:
        download(srv.url("/feed", host="other.test"), limits, session=session)
    assert info.value.code == "tls_error" and not info.value.transient
    assert srv.hits("/feed") == 0


def test_https_with_untrusted_certificate_is_a_tls_error(tls_server, limits, fake_dns) -> None:
    srv, _ = tls_server
    fake_dns({"feed.test": ["127.0.0.1"]})
    srv.add("/feed", RSS)
    with pytest.raises(FetchError) as info:
        download(srv.url("/feed", host="feed.test"), limits)  # default CA bundle
    assert info.value.code == "tls_error"


def test_tls_error_message_names_the_certificate_problem(
    tls_server, tls_files, limits, fake_dns
) -> None:
    srv, _ = tls_server
    fake_dns({"other.test": ["127.0.0.1"]})
    session = requests.Session()
    session.verify = str(tls_files["ca"])
    with pytest.raises(FetchError) as info:
        download(srv.url("/feed", host="other.test"), limits, session=session)
    assert "certificate is not valid" in info.value.message
    assert "other.test" in info.value.message
    assert "Caused by" not in info.value.message and "Traceback" not in info.value.message

"""Guard decisions with fake DNS answers: nothing here opens a connection."""

from __future__ import annotations

import socket

import pytest

from app.pipeline import FetchError, FetchLimits, check_url_allowed
from app.pipeline.guard import resolve_allowed

GUARD_ON = FetchLimits()


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "fc00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:0a00:0001::",
    ],
)
def test_host_name_resolving_to_blocked_address_is_refused(fake_dns, address: str) -> None:
    fake_dns({"feed.example": [address]})
    with pytest.raises(FetchError) as info:
        check_url_allowed("https://feed.example/rss", GUARD_ON)
    assert info.value.code == "blocked_address"
    assert info.value.transient is False
    assert "feed.example" in info.value.message


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111"])
def test_host_name_resolving_to_public_address_is_allowed(fake_dns, address: str) -> None:
    fake_dns({"feed.example": [address]})
    check_url_allowed("https://feed.example/rss", GUARD_ON)  # decision only: no connection


def test_any_blocked_answer_among_several_refuses_the_host(monkeypatch) -> None:
    def fake(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(FetchError) as info:
        check_url_allowed("http://mixed.example/", GUARD_ON)
    assert info.value.code == "blocked_address"


def test_checked_addresses_are_the_ones_returned_for_connecting(fake_dns) -> None:
    # A rebinding server answers public first, loopback afterwards: only the first answer,
    # which was checked, is handed to the transport, and DNS is asked only once.
    lookups = fake_dns({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    target = resolve_allowed("http://rebind.example/feed", GUARD_ON)
    assert [sockaddr[0] for _family, sockaddr in target.addresses] == ["93.184.216.34"]
    assert lookups == ["rebind.example"]


def test_rebinding_answer_to_loopback_on_first_lookup_is_refused(fake_dns) -> None:
    fake_dns({"rebind.example": ["127.0.0.1", "93.184.216.34"]})
    with pytest.raises(FetchError) as info:
        resolve_allowed("http://rebind.example/feed", GUARD_ON)
    assert info.value.code == "blocked_address"


def test_allow_private_networks_disables_the_address_check(fake_dns) -> None:
    fake_dns({"intranet.example": ["10.0.0.1"]})
    check_url_allowed("http://intranet.example/", FetchLimits(allow_private_networks=True))


def test_allowed_hosts_exempts_exactly_the_listed_name(fake_dns) -> None:
    fake_dns({"intranet.example": ["10.0.0.1"], "other.example": ["10.0.0.2"]})
    limits = FetchLimits(allowed_hosts=frozenset({"intranet.example"}))
    check_url_allowed("http://INTRANET.example./feed", limits)
    with pytest.raises(FetchError) as info:
        check_url_allowed("http://other.example/feed", limits)
    assert info.value.code == "blocked_address"


def test_metadata_address_message_names_host_and_reason(fake_dns) -> None:
    fake_dns({"meta.example": ["169.254.169.254"]})
    with pytest.raises(FetchError) as info:
        check_url_allowed("http://meta.example/latest", GUARD_ON)
    assert "meta.example" in info.value.message and "link-local" in info.value.message


def test_the_private_address_a_name_resolved_to_is_logged_never_in_the_message(
    fake_dns, caplog: pytest.LogCaptureFixture
) -> None:
    fake_dns({"inside.example": ["10.20.30.40"]})
    with caplog.at_level("WARNING", logger="app.pipeline.guard"):
        with pytest.raises(FetchError) as info:
            check_url_allowed("http://inside.example/feed", GUARD_ON)
    assert info.value.code == "blocked_address"
    assert "10.20.30.40" not in info.value.message and "inside.example" in info.value.message
    assert "10.20.30.40" in caplog.text


@pytest.mark.parametrize(
    ("port", "allowed"),
    [(25, False), (79, False), (80, True), (81, False), (443, True), (444, False),
     (1023, False), (1024, True), (5432, True), (65535, True)],
)  # fmt: skip
def test_default_ports_are_80_443_and_the_unprivileged_range(
    fake_dns, port: int, allowed: bool
) -> None:
    fake_dns({"feed.example": ["93.184.216.34"]})
    url = f"http://feed.example:{port}/rss"
    if allowed:
        check_url_allowed(url, GUARD_ON)
        return
    with pytest.raises(FetchError) as info:
        check_url_allowed(url, GUARD_ON)
    assert info.value.code == "blocked_address" and str(port) in info.value.message


def test_allowed_ports_hold_even_where_private_networks_are_allowed(fake_dns) -> None:
    limits = FetchLimits(allow_private_networks=True, allowed_ports=((8000, 8999),))
    check_url_allowed("http://127.0.0.1:8000/feed", limits)
    check_url_allowed("http://127.0.0.1:8999/feed", limits)
    for port in (80, 7999, 9000):
        with pytest.raises(FetchError) as info:
            check_url_allowed(f"http://127.0.0.1:{port}/feed", limits)
        assert info.value.code == "blocked_address"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://x/",
        "http://",
        "https:///path",
        "example.com/feed",
        "",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com:port/",
    ],
)
def test_non_http_or_malformed_url_is_invalid(url: str) -> None:
    with pytest.raises(FetchError) as info:
        check_url_allowed(url, GUARD_ON)
    assert info.value.code == "invalid_url"
    assert info.value.transient is False


def test_unresolvable_host_is_a_transient_dns_error(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(FetchError) as info:
        check_url_allowed("https://no-such-host.example/", GUARD_ON)
    assert info.value.code == "dns_error"
    assert info.value.transient is True


def test_localhost_names_are_refused_without_asking_dns(monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("DNS must not be consulted for localhost names")

    monkeypatch.setattr(socket, "getaddrinfo", boom)
    for url in ("http://localhost/", "http://LOCALHOST./", "http://api.localhost:8080/"):
        with pytest.raises(FetchError) as info:
            check_url_allowed(url, GUARD_ON)
        assert info.value.code == "blocked_address"

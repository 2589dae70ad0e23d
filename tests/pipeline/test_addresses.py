"""Pure address decisions: no DNS, no sockets."""

from __future__ import annotations

import ipaddress

import pytest

from app.pipeline import is_blocked_ip, literal_host_blocked
from app.pipeline.addresses import parse_ipv4_literal

BLOCKED = [
    "169.254.169.254",  # cloud metadata
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # shared / CGNAT
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "127.0.0.1",
    "127.255.255.254",
    "198.18.0.1",  # benchmarking
    "192.0.0.8",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::1",
    "::",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::a00:1",  # IPv4-compatible (deprecated)
    "2002:0a00:0001::",  # 6to4 embedding 10.0.0.1
    "2002:7f00:0001::",  # 6to4 embedding 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 embedding 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 embedding 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",  # documentation
    "fec0::1",  # site-local (deprecated)
]
ALLOWED = [
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700::1111",
    "::ffff:93.184.216.34",
    "2002:5db8:d822::",  # 6to4 embedding a public address
    "64:ff9b::5db8:d822",  # NAT64 embedding a public address
]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_address_is_blocked(address: str) -> None:
    assert is_blocked_ip(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize("address", ALLOWED)
def test_public_address_is_allowed(address: str) -> None:
    assert is_blocked_ip(ipaddress.ip_address(address)) is False


LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7F.0.0.1",
    "0x7f.1",
    "0177.0.0.1",
    "0177.1",
    "017700000001",
    "127.0.0.1.",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "localhost",
    "LOCALHOST.",
    "LocalHost",
    "app.localhost",
    "0",
    "0.0.0.0",
    "[::]",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_literal_loopback_spelling_is_blocked_without_dns(host: str) -> None:
    assert literal_host_blocked(f"http://{host}:8080/feed") is True


@pytest.mark.parametrize(
    "host",
    [
        "10.1",
        "0xa.0.0.1",
        "012.0.0.1",
        "167772161",
        "[::ffff:10.0.0.1]",
        "[fd00::1]",
        "169.254.169.254",
        "0xa9fea9fe",
        "[fe80::1%25eth0]",
    ],
)
def test_literal_private_spelling_is_blocked_without_dns(host: str) -> None:
    assert literal_host_blocked(f"https://{host}/") is True


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/feed",
        "http://93.184.216.34/feed",
        "http://1572395042/",  # 93.184.216.34 as one decimal number
        "http://[2606:4700::1111]/",
        "http://localhost.example.com/",
        "http://127.0.0.1.example.com/",
        "http://999.1.1.1/",  # not an IPv4 address: left to DNS (which will fail)
        "not a url",
        "",
    ],
)
def test_public_or_non_literal_host_is_not_blocked_by_literal_check(url: str) -> None:
    assert literal_host_blocked(url) is False


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("10.1.2", "10.1.0.2"),
        ("0x", "0.0.0.0"),
        ("1.2.3.4.", "1.2.3.4"),
    ],
)
def test_ipv4_literal_parser_follows_inet_aton_forms(spelling: str, expected: str) -> None:
    assert str(parse_ipv4_literal(spelling)) == expected


@pytest.mark.parametrize(
    "spelling", ["256.1.1.1", "1.2.3.4.5", "08.1.1.1", "1..2", "4294967296", "a.b"]
)
def test_ipv4_literal_parser_rejects_non_addresses(spelling: str) -> None:
    assert parse_ipv4_literal(spelling) is None

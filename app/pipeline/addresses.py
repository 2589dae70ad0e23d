"""Pure decisions about addresses: which IPs are off limits, and literal host spellings.

No DNS and no sockets here, so every rule can be tested without touching a network.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges that `is_global` in the standard library does not cover but that must never be reached.
_EXTRA_V4 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 prefix
_IPV4_COMPAT = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible form (and ::, ::1)


def _v4_blocked(ip: ipaddress.IPv4Address) -> bool:
    if not ip.is_global:
        return True
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return True
    return any(ip in net for net in _EXTRA_V4)


def is_blocked_ip(ip: IPAddress) -> bool:
    """True when `ip` is loopback, private, link-local, shared, reserved, multicast, ...

    IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64, Teredo)
    are judged by the IPv4 address they carry, so ::ffff:10.0.0.1 is as blocked as 10.0.0.1.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_blocked(ip)
    ip = ipaddress.IPv6Address(ip.compressed.split("%", 1)[0])  # scope ids do not change the rule
    if ip.ipv4_mapped is not None:
        return _v4_blocked(ip.ipv4_mapped)
    if ip in _IPV4_COMPAT:
        return True  # ::, ::1 and the deprecated IPv4-compatible form are never a feed server
    if ip in _NAT64:
        return _v4_blocked(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _NAT64_LOCAL:
        return True
    if ip.sixtofour is not None and _v4_blocked(ip.sixtofour):
        return True
    if ip.teredo is not None:
        return True  # tunnels to arbitrary IPv4 hosts behind NATs: never needed for a feed
    if ip.is_multicast or ip.is_link_local or ip.is_site_local or ip.is_private:
        return True
    if ip.sixtofour is not None:
        return False  # a 6to4 address embedding a public IPv4 is routable like that IPv4
    return not ip.is_global or ip.is_reserved or ip.is_unspecified or ip.is_loopback


def _parse_ipv4_part(part: str) -> int | None:
    """One dotted part in the inet_aton/WHATWG grammar: decimal, 0x hex or 0-leading octal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if part[2:] else 0
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a spelling denotes (127.1, 2130706433, 0x7f.1, 0177.0.0.1...), or None.

    Follows the URL standard's IPv4 parser, which is also what C resolvers accept,
    so a spelling that some layer would turn into an address is recognised here.
    """
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing dot is allowed
    if not parts or len(parts) > 4 or any(p == "" for p in parts):
        return None
    numbers = [_parse_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    result = values[-1]
    for i, n in enumerate(values[:-1]):
        result += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(result)


def host_ip_literal(host: str) -> IPAddress | None:
    """The IP a host names literally (any IPv4 spelling, IPv6 with or without []), or None."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4_literal(host)


def normalise_host(host: str) -> str:
    """Lowercase, without brackets or trailing dots: the form allowed_hosts entries use."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def is_localhost_name(host: str) -> bool:
    """True for "localhost" and any "*.localhost" name (RFC 6761 reserves them for loopback)."""
    name = normalise_host(host)
    return name == "localhost" or name.endswith(".localhost")


def literal_host_blocked(url: str) -> bool:
    """No DNS: True when the URL's host is a blocked IP in any spelling, or a localhost name."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    if not host:
        return False
    if is_localhost_name(host):
        return True
    ip = host_ip_literal(host)
    return ip is not None and is_blocked_ip(ip)

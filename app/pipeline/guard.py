"""The SSRF guard: which URLs may be fetched, resolved once, to which checked addresses.

`resolve_allowed` returns the addresses the transport must connect to, so a second DNS
answer (DNS rebinding) can never replace an address that passed the check.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from .addresses import host_ip_literal, is_blocked_ip, is_localhost_name, normalise_host
from .errors import FetchError
from .models import FetchLimits

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 4096
SockAddr = tuple[int, tuple]  # (address family, sockaddr as accepted by socket.connect)


@dataclass(frozen=True)
class Target:
    """A checked destination: connect only to `addresses` (in order)."""

    host: str  # normalised host name as it appears in the URL (lowercase, no brackets)
    port: int
    addresses: tuple[SockAddr, ...]


def split_url(url: str) -> SplitResult:
    """Parse and validate an http(s) URL; raise FetchError("invalid_url") otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise FetchError("invalid_url", "The address is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise FetchError("invalid_url", "The address is too long.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url.strip()):
        raise FetchError("invalid_url", "The address contains spaces or control characters.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise FetchError("invalid_url", f"{url!r} is not a valid web address.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(
            "invalid_url", f"Only http:// and https:// addresses can be fetched, not {url!r}."
        )
    if not parts.hostname:
        raise FetchError("invalid_url", f"{url!r} has no host name.")
    return parts


def default_port(parts: SplitResult) -> int:
    """The URL's port, or the scheme's default."""
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _getaddrinfo(host: str, port: int, timeout: float) -> list[SockAddr]:
    """getaddrinfo with a time bound (the C call has none), in a daemon thread.

    A plain thread rather than an executor: executors break in forked work horses.
    """
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except Exception as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=run, name="feedqueue-dns", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if worker.is_alive():
        raise FetchError("dns_error", f"Looking up {host} took too long.")
    if "error" in box:
        raise FetchError("dns_error", f"The host name {host} could not be resolved.") from None
    infos = box["result"]
    assert isinstance(infos, list)
    seen: list[SockAddr] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and (family, sockaddr) not in seen:
            seen.append((family, sockaddr))
    if not seen:
        raise FetchError("dns_error", f"The host name {host} has no IP address.")
    return seen


def _literal_addresses(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> list[SockAddr]:
    if isinstance(ip, ipaddress.IPv4Address):
        return [(socket.AF_INET, (str(ip), port))]
    return [(socket.AF_INET6, (str(ip), port, 0, 0))]


def _why(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.is_loopback or (
        isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback
    ):
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if ip.is_private:
        return "a private network address"
    return "an address that is not on the public internet"


def resolve_allowed(url: str, limits: FetchLimits, timeout: float | None = None) -> Target:
    """Validate `url`, resolve its host once and check every address; return the checked target.

    Raises FetchError("invalid_url" | "blocked_address" | "dns_error").
    """
    parts = split_url(url)
    host = normalise_host(parts.hostname or "")
    port = default_port(parts)
    if not any(first <= port <= last for first, last in limits.allowed_ports):
        # Checked for every hop and whatever the address: no fetch may knock on a mail,
        # SSH or database port, even of a host that FETCH_ALLOWED_HOSTS exempts.
        raise FetchError(
            "blocked_address",
            f"Port {port} is not one feedqueue fetches from (FETCH_ALLOWED_PORTS).",
        )
    exempt = limits.allow_private_networks or host in limits.allowed_hosts
    if not exempt and is_localhost_name(host):
        raise FetchError(
            "blocked_address", f"{host} is this machine; fetching local addresses is not allowed."
        )
    literal = host_ip_literal(host)
    if literal is not None:
        addresses = _literal_addresses(literal, port)
    else:
        budget = limits.connect_timeout if timeout is None else min(timeout, limits.connect_timeout)
        addresses = _getaddrinfo(host, port, budget)
    if not exempt:
        for _family, sockaddr in addresses:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if is_blocked_ip(ip):
                if literal is not None:
                    message = f"{host} is {_why(ip)}; fetching it is not allowed."
                else:
                    # The message is shown to whoever submitted the feed: never say which
                    # private address a name resolved to (a map of the internal network);
                    # the log, for operators, does.
                    log.warning("blocked address: %s resolved to %s (%s)", host, ip, _why(ip))
                    message = f"{host} points to {_why(ip)}; fetching it is not allowed."
                raise FetchError("blocked_address", message)
    return Target(host=host, port=port, addresses=tuple(addresses))


def check_url_allowed(url: str, limits: FetchLimits) -> None:
    """Resolve and check `url`; raise FetchError("invalid_url"/"blocked_address"/"dns_error")."""
    resolve_allowed(url, limits)

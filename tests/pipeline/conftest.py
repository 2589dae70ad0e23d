"""Fixtures for the pipeline tests: a real loopback feed server, limits, fake DNS, TLS certs."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.pipeline import FetchLimits
from tests.feedserver import FeedServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A fresh loopback HTTP server per test (its request log starts empty)."""
    srv = FeedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def limits() -> FetchLimits:
    """Limits for ordinary cases: the test server is on loopback, so the guard is off."""
    return FetchLimits(allow_private_networks=True, deadline=5.0, connect_timeout=2.0)


@pytest.fixture
def guarded() -> FetchLimits:
    """Production-like limits with the private-network guard on."""
    return FetchLimits(deadline=5.0, connect_timeout=2.0)


FakeDNS = Callable[[dict[str, list[str]]], list[str]]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """Install fake answers for some host names; returns the list of names looked up.

    Each name maps to a list of IPs; successive lookups take successive answers (the
    last one repeats), which lets a test play a DNS-rebinding server. Other names go to
    the real resolver, so numeric hosts keep working.
    """
    real = socket.getaddrinfo
    lookups: list[str] = []

    def install(answers: dict[str, list[str]]) -> list[str]:
        calls: dict[str, int] = {}

        def fake(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name not in answers:
                return real(host, port, family, type, proto, flags)
            lookups.append(name)
            n = calls.get(name, 0)
            calls[name] = n + 1
            ip = answers[name][min(n, len(answers[name]) - 1)]
            if ":" in ip:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, int(port), 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port)))]

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return lookups

    return install


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for the name feed.test (needs the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=feedqueue test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    run("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=feed.test")
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:feed.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return {"ca": d / "ca.pem", "cert": d / "leaf.pem", "key": d / "leaf.key"}


@pytest.fixture
def tls_server(tls_files: dict[str, Path]) -> Iterator[tuple[FeedServer, list[str | None]]]:
    """An HTTPS loopback server with the feed.test certificate; also yields the SNI names seen."""
    sni_seen: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    context.sni_callback = lambda _sock, name, _ctx: sni_seen.append(name)
    srv = FeedServer(ssl_context=context).start()
    yield srv, sni_seen
    srv.stop()

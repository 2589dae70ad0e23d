"""The benchmark feed server answers with a feed, and with 304 to its own ETag."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def bench_feed_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.feedserver", "--port", str(port), "--items", "3"],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline, "feed server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_feed_server_serves_a_feed_then_not_modified(bench_feed_server: str) -> None:
    with urllib.request.urlopen(f"{bench_feed_server}/feed/7.xml", timeout=5) as first:
        body = first.read()
        etag = first.headers["ETag"]
    assert body.count(b"<item>") == 3
    request = urllib.request.Request(
        f"{bench_feed_server}/feed/7.xml", headers={"If-None-Match": etag}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    assert answer.value.code == 304

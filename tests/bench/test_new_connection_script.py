"""post_feeds_new_connection.lua: every submission on a connection of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.loadgen import run_wrk


class _Counting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections alive unless the client says close
    connections = 0
    requests = 0
    closes_asked = 0
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        with self.lock:
            type(self).connections += 1

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        close = self.headers.get("Connection", "").lower() == "close"
        with self.lock:
            type(self).requests += 1
            type(self).closes_asked += close
        self.send_response(202)
        self.send_header("Content-Length", "0")
        if close:
            self.send_header("Connection", "close")  # as gunicorn answers it
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_each_request_asks_to_close_and_comes_on_a_new_connection(
    counting_server: ThreadingHTTPServer,
) -> None:
    port = counting_server.server_address[1]
    result = run_wrk(
        f"http://127.0.0.1:{port}/feeds",
        "post_feeds_new_connection.lua",
        connections=2,
        duration=1,
        env={"BENCH_FEED_BASE": "http://127.0.0.1:9/feed/", "BENCH_TOKEN": "t"},
    )
    assert result.requests > 0 and result.errors == 0, result.errors_by_kind
    assert _Counting.requests >= result.requests
    assert _Counting.closes_asked == _Counting.requests
    # One connection per request (give or take the two open when wrk stopped).
    assert _Counting.connections >= _Counting.requests

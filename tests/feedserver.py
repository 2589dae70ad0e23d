"""A real HTTP server on loopback that serves feeds to the tests.

Routes are registered per test: a fixed body, or a handler that builds the
response from the request (for conditional GET, redirects, slow bodies...).
The server runs in a thread with one thread per connection, so a slow route
does not block the others.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Request:
    """What a route handler sees of a request."""

    method: str
    path: str
    headers: Mapping[str, str]


@dataclass
class Response:
    """What a route answers. `body` may be an iterable of chunks (sent with a flush each)."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before the status line
    chunk_delay: float = 0.0  # seconds to wait between body chunks


Handler = Callable[[Request], Response]


class FeedServer:
    """Threaded loopback HTTP server with per-path routes and a request log."""

    def __init__(
        self, host: str = "127.0.0.1", *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Bind to `host` (IPv4 or IPv6 literal) on a free port; serve HTTPS with `ssl_context`."""
        self._routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep test output quiet

            def do_GET(self) -> None:  # noqa: N802
                server._serve(self)

            def do_HEAD(self) -> None:  # noqa: N802
                server._serve(self)

            def do_POST(self) -> None:  # noqa: N802 - a WebSub hub's routes take POSTs
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server._serve(self)

        class _Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def handle_error(self, request: object, client_address: object) -> None:
                # Clients that hang up (timeouts, refused TLS, closed keep-alive) are expected.
                if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
                    return
                super().handle_error(request, client_address)  # type: ignore[arg-type]

        server_class = _Server
        self._httpd = server_class((host, 0), _Handler)
        self._httpd.daemon_threads = True
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.host = host
        self.port = self._httpd.server_address[1]
        # A short poll interval keeps stop() fast (the default waits up to 0.5 s).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- routes ----------------------------------------------------------
    def url(self, path: str, host: str | None = None) -> str:
        """Absolute URL of `path` on this server (optionally with another host spelling)."""
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        """Serve `path` with `handler`; returns the path's URL."""
        with self._lock:
            self._routes[path] = handler
        return self.url(path)

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str = "application/rss+xml; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> str:
        """Serve a fixed response at `path`; returns its URL."""
        data = body.encode() if isinstance(body, str) else body
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return self.route(
            path, lambda _req: Response(status, data, dict(all_headers), delay=delay)
        )

    def add_fixture(self, path: str, name: str, **kwargs: object) -> str:
        """Serve the file tests/fixtures/<name> at `path`."""
        return self.add(path, (FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]

    def hits(self, path: str) -> int:
        """How many requests reached `path`."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    # -- serving ---------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        req = Request(h.command, h.path, {k.lower(): v for k, v in h.headers.items()})
        with self._lock:
            self.requests.append(req)
            handler = self._routes.get(h.path.split("?", 1)[0])
        not_found = Response(404, b"not found", {"Content-Type": "text/plain"})
        resp = handler(req) if handler else not_found
        if resp.delay:
            time.sleep(resp.delay)
        try:
            h.send_response(resp.status)
            for key, value in resp.headers.items():
                h.send_header(key, value)
            if isinstance(resp.body, bytes):
                h.send_header("Content-Length", str(len(resp.body)))
                h.end_headers()
                if h.command != "HEAD":
                    h.wfile.write(resp.body)
                return
            # Streamed body: no Content-Length, the connection closes at the end.
            h.send_header("Connection", "close")
            h.close_connection = True
            h.end_headers()
            for chunk in resp.body:
                h.wfile.write(chunk)
                h.wfile.flush()
                if resp.chunk_delay:
                    time.sleep(resp.chunk_delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, which is what some tests want

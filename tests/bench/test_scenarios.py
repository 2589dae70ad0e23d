"""The new scenarios' parts at tiny sizes: feeds spread over hosts, a connection per
request, clients that honour Retry-After against a real web and worker."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from app.config import Settings
from bench.accounts import create_account
from bench.data import seed_due_feeds
from bench.loadgen import run_wrk
from bench.stack import Services, feed_base, feed_url, host_address
from bench.worker_scenarios import honouring_clients
from tests.dynos import WebDyno, WorkerDyno
from tests.feedserver import FeedServer


class CountingServer:
    """Answers every request 202 on loopback, keeps the connection unless asked to close
    it, and counts the connections it accepted and the request bodies it read."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(data) < length:
                    data += conn.recv(65536)
                with self._lock:
                    self.bodies.append(data[:length])
                data = data[length:]
                close = b"connection: close" in head.lower()
                conn.sendall(
                    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                )
                if close:
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


def _post(server: CountingServer, **env: str) -> int:
    result = run_wrk(
        f"http://127.0.0.1:{server.port}/feeds",
        "post_feeds.lua",
        connections=2,
        duration=1,
        rate=50,
        env={"BENCH_FEED_BASE": feed_base(), "BENCH_TOKEN": "t", **env},
    )
    assert result.errors == 0, result.errors_by_kind
    return result.requests


def test_connection_close_makes_wrk_open_a_connection_per_request(
    counting_server: CountingServer,
) -> None:
    requests = _post(counting_server, BENCH_CONNECTION_CLOSE="1")

    assert requests > 5
    assert counting_server.connections >= requests


def test_without_connection_close_wrk_keeps_its_connections(
    counting_server: CountingServer,
) -> None:
    requests = _post(counting_server)

    assert requests > 5
    assert counting_server.connections < requests / 2


def test_the_wrk_script_puts_each_feed_on_the_host_feed_url_names(
    counting_server: CountingServer,
) -> None:
    _post(counting_server, BENCH_FEED_HOSTS="300", BENCH_FEED_PORT="8700")

    urls = [json.loads(body)["url"] for body in counting_server.bodies]
    assert urls
    for url in urls:
        n = int(url.rsplit("/", 1)[1].removesuffix(".xml"))
        assert url == feed_url(n, 300)
    assert len({url.split("/")[2] for url in urls}) > 1


def test_seeded_feeds_are_on_the_hosts_feed_url_names(settings: Settings, db: object) -> None:
    account = create_account(settings.database_url or "")
    services = Services(settings.database_url or "", settings.redis_url or "", account=account)

    seed_due_feeds(services, feed_base(), 255, 4, etag=False, hosts=300)

    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT url FROM feeds ORDER BY id")
        urls = [row[0] for row in cur.fetchall()]
    conn.close()
    assert urls == [feed_url(n, 300) for n in range(255, 259)]
    assert host_address(255) == "127.1.1.0"  # host index 255 is number 256: 1.0


def test_clients_that_honour_retry_after_wait_what_they_are_told_and_see_items(
    settings: Settings,
    db: object,
    feed_server: FeedServer,
    start_web: Callable[..., WebDyno],
    start_worker: Callable[..., WorkerDyno],
) -> None:
    account = create_account(settings.database_url or "")
    web = start_web()
    start_worker(concurrency=1)
    feeds = [feed_server.add_fixture(f"/f{n}.xml", "example-rss20.xml") for n in range(3)]

    out = honouring_clients(web.base_url, account.headers(), feeds, concurrency=2)

    assert out["states"] == {"succeeded": 3}
    assert out["with_items"] == 3
    hints = out["retry_after_seen"]
    assert isinstance(hints, dict) and sum(hints.values()) >= 3  # a 202 each, and polls
    to_items = out["to_items"]
    assert isinstance(to_items, dict)
    # Each client slept at least the 202's hint before its first poll.
    assert to_items["p50_ms"] >= 1000 * min(float(h) for h in hints)

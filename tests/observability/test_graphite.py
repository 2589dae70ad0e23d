"""Graphite push: carbon plaintext lines over TCP, to a loopback listener only."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from app.config import Settings
from app.observability.graphite import GraphiteSender, graphite_target, plaintext
from app.observability.runtime import MB, Readings, report


class CarbonListener:
    """A loopback TCP server that keeps what each connection sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
        self.received.append(b"".join(chunks))
        self.done.set()

    def lines(self) -> list[str]:
        assert self.done.wait(10), "nothing received"
        return self.received[0].decode().splitlines()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def carbon() -> Iterator[CarbonListener]:
    listener = CarbonListener()
    yield listener
    listener.close()


def test_sender_writes_carbon_plaintext_lines(carbon: CarbonListener) -> None:
    sender = GraphiteSender("127.0.0.1", carbon.port, "key123.feedqueue")
    assert sender.send({"memory_rss": 12.5, "load_avg_1m": 0.0}, prefix="web.1", timestamp=1700)
    assert carbon.lines() == [
        "key123.feedqueue.web.1.memory_rss 12.5 1700",
        "key123.feedqueue.web.1.load_avg_1m 0 1700",
    ]


def test_runtime_report_pushes_the_sample(carbon: CarbonListener) -> None:
    readings = Readings(0.5, 0.25, 0.125, 64 * MB, 0.0, 0.0, 10, 20, 512 * MB)
    report("worker.2", "d", readings, GraphiteSender("127.0.0.1", carbon.port, "feedqueue"))
    values = {line.split()[0]: line.split()[1] for line in carbon.lines()}
    assert values["feedqueue.worker.2.memory_total"] == "64"
    assert values["feedqueue.worker.2.memory_quota"] == "512"
    assert values["feedqueue.worker.2.load_avg_1m"] == "0.5"
    assert values["feedqueue.worker.2.memory_pgpgin"] == "10"


def test_a_failed_push_is_dropped_not_raised() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert GraphiteSender("127.0.0.1", port, "feedqueue", timeout=1).send({"x": 1.0}) is False


def test_unsafe_characters_and_non_finite_values_are_dropped_from_paths() -> None:
    payload = plaintext("feedqueue.web 1", {"a b": 1.0, "nan": float("nan")}, 5)
    assert payload == b"feedqueue.web_1.a_b 1 5\n"


def test_graphite_is_off_unless_configured() -> None:
    assert graphite_target(Settings()) is None


def test_hosted_graphite_key_targets_its_carbon_and_prefixes_paths() -> None:
    configured = Settings(hostedgraphite_apikey="abc-123")
    assert graphite_target(configured) == ("carbon.hostedgraphite.com", 2003, "abc-123.feedqueue")


def test_graphite_url_names_the_carbon_listener() -> None:
    configured = Settings(graphite_url="tcp://127.0.0.1:2103")
    assert graphite_target(configured) == ("127.0.0.1", 2103, "feedqueue")


def test_graphite_settings_come_from_the_environment() -> None:
    environ = {
        "DATABASE_URL": "postgresql://u@127.0.0.1/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "FEEDQUEUE_ENV": "test",
        "GRAPHITE_URL": "tcp://127.0.0.1:2003",
        "HOSTEDGRAPHITE_APIKEY": "k",
    }
    target = graphite_target(Settings.from_env(environ))
    assert target == ("127.0.0.1", 2003, "k.feedqueue")

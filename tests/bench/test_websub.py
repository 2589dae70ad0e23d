"""The push bench's publisher: a new entry per ping reaches the hub's subscribers, signed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.pipeline import FetchLimits, parse_feed
from bench.websub import FEED_ENTRIES, Publisher, render
from tests.conftest import wait_for
from tests.feedserver import FeedServer, Request, Response
from tests.websub_hub import Hub, HubSubscription


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub().start()
    yield running
    running.stop()


def test_a_ping_makes_the_hub_push_the_feed_with_the_new_entry(hub: Hub) -> None:
    publisher = Publisher(hub.url)
    subscriber = FeedServer().start()
    seen: list[Request] = []

    def callback(request: Request) -> Response:
        seen.append(request)
        return Response(202)

    try:
        url = subscriber.route("/cb", callback)
        hub.subscriptions[(url, publisher.url)] = HubSubscription(url, publisher.url, "k", 60)
        publisher.post("entry-1")
        wait_for(lambda: seen, timeout=10)
        assert seen[0].method == "POST"
        assert seen[0].headers["x-hub-signature"].startswith("sha256=")
    finally:
        publisher.server.stop()
        subscriber.stop()


def test_the_publishers_feed_names_the_hub_and_keeps_its_newest_entries(hub: Hub) -> None:
    publisher = Publisher(hub.url)
    try:
        publisher.entries += [f"entry-{n}" for n in range(1, 30)]
        response = publisher._serve(Request("GET", "/feed.atom", {}))  # noqa: SLF001
        assert isinstance(response.body, bytes)
        feed = parse_feed(response.body, response.headers, publisher.url, FetchLimits())
    finally:
        publisher.server.stop()
    assert feed.hub_urls == [hub.url] and feed.self_url == publisher.url
    assert len(feed.items) == FEED_ENTRIES and feed.items[0].title == "entry-29"


def test_the_report_names_the_command_the_machine_and_the_load() -> None:
    result = {
        "pings": 200, "p50_ms": 120.4, "p90_ms": 150.0, "p99_ms": 300.2, "max_ms": 410.0,
        "started": "2026-11-30 21:00:00 UTC", "load_before": (1.0, 2.0, 3.0),
        "machine": {"cores": 2, "cpu": "AMD EPYC"},
    }  # fmt: skip
    text = render(result)
    assert "python -m bench.websub --pings 200" in text and "1.00 / 2.00 / 3.00" in text
    assert "| push (WebSub) | 200 | 120 ms | 150 ms | 300 ms | 410 ms |" in text

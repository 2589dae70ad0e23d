"""Flask-Limiter's headers from the hit itself: fewer Redis round trips per submission."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from redis import Redis
from redis.connection import AbstractConnection

from app.config import Settings
from app.web.ratelimit_storage import HitWindowRedisStorage, storage_uri
from tests.conftest import signed_in

#: Redis round trips a POST /feeds may make: the limiter's hit, the admission
#: check, and the enqueue (with the queue registration and the position).
SUBMISSION_ROUND_TRIPS = 3


@contextmanager
def _round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every command (or pipeline) written to a Redis socket in the block, in order."""
    sent: list[object] = []
    send = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        sent.append(command)
        send(self, command, check_health)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counting)
        yield sent


def test_a_submission_makes_no_more_redis_round_trips_than_it_needs(
    make_app: Callable[..., Flask], redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(make_app(submit_rate_limit="30 per minute"))
    # The first loads the limiter's script and opens the connections.
    assert client.post("/feeds", json={"url": "https://example.com/0.xml"}).status_code == 202
    with _round_trips(monkeypatch) as sent:
        for n in range(1, 6):
            answer = client.post("/feeds", json={"url": f"https://example.com/{n}.xml"})
            assert answer.status_code == 202
            assert answer.headers["X-RateLimit-Limit"] == "30"
    assert len(sent) / 5 <= SUBMISSION_ROUND_TRIPS, sent


def test_the_rate_limit_headers_follow_the_hits_of_the_window(
    make_app: Callable[..., Flask], redis: Redis
) -> None:
    client = signed_in(make_app(submit_rate_limit="30 per minute"))
    answers = [client.post("/feeds", json={"url": f"https://example.com/{n}.xml"}) for n in (1, 2)]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["29", "28"]
    now = time.time()
    for answer in answers:
        assert now < int(answer.headers["X-RateLimit-Reset"]) <= now + 61


def test_a_client_over_its_limit_gets_a_429_with_the_window_it_waits_for(
    make_app: Callable[..., Flask], redis: Redis
) -> None:
    client = signed_in(make_app(submit_rate_limit="2 per minute"))
    for n in (1, 2):
        assert (
            client.post("/feeds", json={"url": f"https://example.com/{n}.xml"}).status_code == 202
        )
    refused = client.post("/feeds", json={"url": "https://example.com/3.xml"})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_outside_a_request_the_storage_reads_redis(settings: Settings, redis: Redis) -> None:
    storage = HitWindowRedisStorage(storage_uri(settings.redis_url or ""))
    assert storage.incr("outside/key", 60) == 1
    assert storage.incr("outside/key", 60) == 2
    assert storage.get("outside/key") == 2
    assert time.time() + 50 < storage.get_expiry("outside/key") <= time.time() + 61
    storage.clear("outside/key")
    assert storage.get("outside/key") == 0


def test_only_redis_urls_get_this_storage() -> None:
    assert storage_uri("redis://127.0.0.1:6379/1") == "feedqueue+redis://127.0.0.1:6379/1"
    assert storage_uri("rediss://h:1/0?ssl_cert_reqs=none").startswith("feedqueue+rediss://")
    assert storage_uri("memory://") == "memory://"

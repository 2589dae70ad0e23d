from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from app.jobs.fetch import MAX_RETRY_WAIT, RETRY_BACKOFF, retry_delay
from app.pipeline import FetchError
from tests.conftest import WorkerDyno, wait_for
from tests.feedserver import FIXTURES, FeedServer, Request, Response

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


def _error(code: str, *, transient: bool, retry_after: float | None = None) -> FetchError:
    return FetchError(code, "message", transient=transient, retry_after=retry_after)


def test_permanent_errors_are_not_retried() -> None:
    assert retry_delay(_error("http_404", transient=False), attempt=1, retries=3) is None


def test_transient_errors_back_off_attempt_by_attempt() -> None:
    delays = [
        retry_delay(_error("timeout", transient=True), attempt=a, retries=3) for a in (1, 2, 3)
    ]
    assert delays == list(RETRY_BACKOFF)


def test_transient_errors_stop_after_the_configured_retries() -> None:
    assert retry_delay(_error("timeout", transient=True), attempt=4, retries=3) is None


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    err = _error("http_429", transient=True, retry_after=42.2)
    assert retry_delay(err, attempt=1, retries=3) == 43


def test_a_very_long_retry_after_is_left_to_the_feed_schedule() -> None:
    err = _error("http_503", transient=True, retry_after=MAX_RETRY_WAIT + 1)
    assert retry_delay(err, attempt=1, retries=3) is None


class FlakyThenOk:
    """Answers 503 with Retry-After: 1 the first time, then the feed."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, _req: Request) -> Response:
        self.calls += 1
        if self.calls == 1:
            return Response(503, b"busy", {"Retry-After": "1", "Content-Type": "text/plain"})
        return Response(200, RSS, {"Content-Type": "application/rss+xml"})


@pytest.mark.parametrize("retries", ["1"])
def test_a_503_with_retry_after_is_retried_and_then_succeeds(
    client: FlaskClient,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
    retries: str,
) -> None:
    flaky = FlakyThenOk()
    submitted = client.post("/feeds", json={"url": feed_server.route("/flaky.xml", flaky)})
    status_url = submitted.get_json()["status_url"]
    start_worker(concurrency=1, WORKER_THREADS="1", FETCH_RETRIES=retries)
    body = wait_for(
        lambda: (b := client.get(status_url).get_json())["state"] == "succeeded" and b,
        timeout=40,
    )
    assert body["attempts"] == 2  # type: ignore[index]
    assert flaky.calls == 2

"""Worker dynos' metrics reach the web's /metrics through Redis, labelled by dyno."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from flask.testing import FlaskClient
from prometheus_client.core import CounterMetricFamily
from redis import Redis

from app.observability import dynos
from tests.conftest import WorkerDyno, wait_for
from tests.feedserver import FeedServer
from tests.observability.conftest import QUEUE_PREFIX, SUBMISSIONS, Samples, parse, total

REMOTE = """# HELP feedqueue_jobs_started_total Fetch jobs a worker began.
# TYPE feedqueue_jobs_started_total counter
feedqueue_jobs_started_total{queue="submissions"} 7.0
"""
SUCCEEDED = "feedqueue_jobs_succeeded_total"
# Worker dynos of these tests: their queues; empty means unset, so a folder of its own.
# Published every second, not every 10: the snapshot with the test's job comes sooner.
OWN_FOLDER = {
    "QUEUE_PREFIX": QUEUE_PREFIX, "PROMETHEUS_MULTIPROC_DIR": "", "METRICS_PUBLISH_SECONDS": "1"
}


def test_merge_labels_every_sample_with_its_dyno_and_keeps_one_family_per_name() -> None:
    local = CounterMetricFamily(
        "feedqueue_jobs_started", "Fetch jobs a worker began.", labels=["queue"]
    )
    local.add_metric(["submissions"], 2)
    merged = dynos.merge([local], "web.1", {"worker.1": REMOTE})
    assert [f.name for f in merged] == ["feedqueue_jobs_started"]
    samples = {(s.labels["dyno"], s.value) for s in merged[0].samples if s.name.endswith("_total")}
    assert samples == {("web.1", 2), ("worker.1", 7.0)}


def test_published_snapshots_are_read_back_except_our_own(redis: Redis) -> None:
    dynos.publish(redis, "t", "worker.1", REMOTE.encode(), source="host-b:/m")
    dynos.publish(redis, "t", "web.1", b"ours", source="host-a:/m")
    found = dynos.published(redis, "t", exclude="web.1", source="host-a:/m")
    assert list(found) == ["worker.1"]
    assert "\n".join(found["worker.1"].splitlines()[1:]) + "\n" == REMOTE


def test_a_snapshot_read_from_our_own_metrics_folder_is_left_out(redis: Redis) -> None:
    # A local web and worker sharing one folder: the web's own merge already holds it.
    dynos.publish(redis, "t", "vm.worker", REMOTE.encode(), source="vm:/shared")
    dynos.publish(redis, "t", "other.worker", REMOTE.encode(), source="other:/shared")
    assert list(dynos.published(redis, "t", exclude="vm.web", source="vm:/shared")) == [
        "other.worker"
    ]


def test_published_snapshot_expires(redis: Redis) -> None:
    dynos.publish(redis, "t", "worker.1", REMOTE.encode())
    assert 0 < redis.ttl("t:metrics:dyno:worker.1") <= dynos.SNAPSHOT_TTL


def test_web_metrics_include_a_worker_dynos_processes(
    scrape: Callable[[], Samples],
    start_worker: Callable[..., WorkerDyno],
    worker_env: dict[str, str],
) -> None:
    # Its own metrics folder, as on Heroku: Redis is the only way across.
    start_worker(concurrency=2, WORKER_THREADS="1", DYNO="worker.7", **OWN_FOLDER)
    wait_for(
        lambda: total(scrape(), "feedqueue_processes_alive", dyno="worker.7") >= 2,
        timeout=40,
        interval=1,
    )


def _submit_and_fetch(client: FlaskClient, feed_server: FeedServer) -> None:
    url = feed_server.add_fixture("/d.xml", "example-rss20.xml")
    fetch = client.post("/feeds", json={"url": url}).get_json()["fetch"]
    wait_for(
        lambda: client.get(f"/fetches/{fetch['id']}").get_json()["state"] == "succeeded",
        timeout=40,
    )


def test_a_local_worker_without_dyno_reaches_the_webs_metrics_under_its_own_name(
    client: FlaskClient,
    feed_server: FeedServer,
    scrape: Callable[[], Samples],
    start_worker: Callable[..., WorkerDyno],
) -> None:
    # Web and worker on one host, neither with DYNO, each with its own metrics folder
    # (the Procfile run by honcho or `heroku local`): the worker's snapshot must not be
    # taken for the web's own.
    start_worker(concurrency=1, WORKER_THREADS="1", DYNO="", **OWN_FOLDER)
    _submit_and_fetch(client, feed_server)
    worker = f"{socket.gethostname()}.worker"
    wait_for(lambda: total(scrape(), SUCCEEDED, dyno=worker, queue=SUBMISSIONS) == 1, timeout=40)


def test_a_worker_sharing_the_webs_metrics_folder_is_counted_once(
    client: FlaskClient,
    redis: Redis,
    feed_server: FeedServer,
    scrape: Callable[[], Samples],
    start_worker: Callable[..., WorkerDyno],
) -> None:
    # `make run`: one metrics folder for web and worker, so the web reads the worker's
    # files itself, and the worker's published snapshot of that folder is left out.
    shared = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    before = total(scrape(), SUCCEEDED, queue=SUBMISSIONS)
    start_worker(
        concurrency=1,
        WORKER_THREADS="1",
        DYNO="",
        QUEUE_PREFIX=QUEUE_PREFIX,
        PROMETHEUS_MULTIPROC_DIR=shared,
        METRICS_PUBLISH_SECONDS="1",
    )
    _submit_and_fetch(client, feed_server)
    key = f"{QUEUE_PREFIX}:metrics:dyno:{socket.gethostname()}.worker"

    def published_with_the_job() -> bool:
        snapshot = redis.get(key)
        if snapshot is None:
            return False
        return total(parse(snapshot.decode()), SUCCEEDED, queue=SUBMISSIONS) > before

    wait_for(published_with_the_job, timeout=40)
    assert total(scrape(), SUCCEEDED, queue=SUBMISSIONS) - before == 1

"""Worker dynos' metrics reach the web's /metrics through Redis, labelled by dyno."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.core import CounterMetricFamily
from redis import Redis

from app.observability import dynos
from tests.conftest import WorkerDyno, wait_for
from tests.observability.conftest import QUEUE_PREFIX, Samples, total

REMOTE = """# HELP feedqueue_jobs_started_total Fetch jobs a worker began.
# TYPE feedqueue_jobs_started_total counter
feedqueue_jobs_started_total{queue="submissions"} 7.0
"""


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
    dynos.publish(redis, "t", "worker.1", REMOTE.encode())
    dynos.publish(redis, "t", "web.1", b"ours")
    assert dynos.published(redis, "t", exclude="web.1") == {"worker.1": REMOTE}


def test_published_snapshot_expires(redis: Redis) -> None:
    dynos.publish(redis, "t", "worker.1", REMOTE.encode())
    assert 0 < redis.ttl("t:metrics:dyno:worker.1") <= dynos.SNAPSHOT_TTL


def test_web_metrics_include_a_worker_dynos_processes(
    scrape: Callable[[], Samples], start_worker: Callable[..., WorkerDyno]
) -> None:
    # Its own metrics folder, as on Heroku: Redis is the only way across.
    start_worker(concurrency=2, WORKER_THREADS="1", DYNO="worker.7", QUEUE_PREFIX=QUEUE_PREFIX)
    wait_for(
        lambda: total(scrape(), "feedqueue_processes_alive", dyno="worker.7") >= 2,
        timeout=40,
        interval=1,
    )

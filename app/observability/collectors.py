"""What ``/metrics`` serves: the merged multiprocess files plus queue state read at scrape time.

Queue depth and the age of the oldest waiting job are facts about Redis, not
about any process, so they are read when Prometheus scrapes rather than kept
in counters. A Redis that does not answer shows as ``feedqueue_redis_up 0``
instead of failing the whole scrape.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.utils import utcparse

import app.observability.metrics  # noqa: F401 - registers the metric definitions
from app.observability import dynos


class QueueCollector(Collector):
    """Depth, oldest-job age and running/failed/scheduled counts of the app's queues."""

    def __init__(self, queues: Iterable[Queue]) -> None:
        self.queues = list(queues)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("feedqueue_redis_up", "1 when Redis answered this scrape.")
        depth = GaugeMetricFamily(
            "feedqueue_queue_depth", "Jobs waiting in the queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "feedqueue_queue_oldest_job_age_seconds",
            "How long the next job in the queue has waited (0 when empty).",
            labels=["queue"],
        )
        registries = GaugeMetricFamily(
            "feedqueue_queue_jobs",
            "Jobs in RQ's registries: running (started), scheduled (retry wait), failed.",
            labels=["queue", "registry"],
        )
        try:
            now = time.time()
            for queue in self.queues:
                depth.add_metric([queue.name], queue.count)
                oldest.add_metric([queue.name], _oldest_age(queue, now))
                registries.add_metric([queue.name, "started"], queue.started_job_registry.count)
                registries.add_metric([queue.name, "scheduled"], queue.scheduled_job_registry.count)
                registries.add_metric([queue.name, "failed"], queue.failed_job_registry.count)
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (up, depth, oldest, registries)


def _oldest_age(queue: Queue, now: float) -> float:
    # Workers pop from the head of the list, so index 0 is the longest wait
    # (bar the rare job put back at the front).
    job_id = queue.connection.lindex(queue.key, 0)
    if job_id is None:
        return 0.0
    raw = queue.connection.hget(queue.job_class.key_for(job_id.decode()), "enqueued_at")
    if not raw:
        return 0.0
    return max(0.0, now - utcparse(raw.decode()).timestamp())


class _SettledFilesCollector(MultiProcessCollector):
    """Merges the processes' files, skipping ones a new process has not written yet.

    A process starting during a scrape creates its file before it writes the
    header; prometheus_client would fail the whole scrape reading it.
    """

    def collect(self):  # type: ignore[no-untyped-def]
        files = []
        for name in glob.glob(os.path.join(self._path, "*.db")):
            try:
                if os.path.getsize(name) >= 8:
                    files.append(name)
            except OSError:
                continue  # removed by mark_process_dead meanwhile
        return self.merge(files, accumulate=True)


def dyno_exposition(path: str | None = None) -> bytes:
    """The merged metrics of this dyno's processes, as exposition text."""
    registry = CollectorRegistry()
    _SettledFilesCollector(registry, path=path)
    return generate_latest(registry)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def scrape(
    queues: Iterable[Queue],
    path: str | None = None,
    *,
    dyno: str,
    redis: Redis | None = None,
    prefix: str = "feedqueue",
) -> bytes:
    """The exposition text for one scrape of dyno ``dyno``: every process's metrics, other
    dynos', the queues."""
    local = CollectorRegistry()
    _SettledFilesCollector(local, path=path)
    remote: dict[str, str] = {}
    if redis is not None:
        try:
            remote = dynos.published(redis, prefix, exclude=dyno)
        except RedisError:
            pass  # feedqueue_redis_up already says so
    registry = CollectorRegistry()
    registry.register(_Families(dynos.merge(local.collect(), dyno, remote)))
    registry.register(QueueCollector(queues))
    return generate_latest(registry)

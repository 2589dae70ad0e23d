"""Hostile feeds in flight beside normal ones, through a real worker dyno.

Every document of the hostile corpus, plus two that no rule of the scan catches (one
too slow to parse, one too big), is submitted among normal feeds; a real worker.py
(supervisor, two worker processes, their parser processes) fetches them all from the
loopback feed server while this test reads the RSS of every process of the dyno with
psutil. Every normal feed must succeed, every hostile one end with its code after one
attempt, no process may pass its memory limit, and no worker process may die.

The parser processes' limits are CPU seconds and a wall-clock multiple of them, so these
tests run alone (`make test` runs them after the parallel tests): beside a parallel suite
on two cores, a load of 40 and more, a document's seconds of CPU took more wall time than
any deadline of the dyno allows, and feeds failed with `timeout` for want of a core.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Worker
from sqlalchemy import select

from app.storage.db import Database
from app.storage.models import Fetch, FetchState
from tests.conftest import WorkerDyno, wait_for
from tests.feedserver import FIXTURES, FeedServer
from tests.hostile import Hostile, corpus, empty_json_objects, heavy_feed

pytestmark = pytest.mark.alone

MIB = 1024 * 1024
NORMAL = (FIXTURES / "example-rss20.xml").read_bytes()
NORMAL_FEEDS = 30
PARSER_MEMORY_MB = 160
# The limits the test holds the dyno to. A worker process idles at ~75 MB and holds
# the bodies it is downloading (up to 10 MB each, a few at once); a parser process is
# held to PARSER_MEMORY_MB of address space, which its RSS cannot pass.
WORKER_RSS_LIMIT = 300 * MIB
PARSER_RSS_LIMIT = PARSER_MEMORY_MB * MIB
ENV = {
    "WORKER_THREADS": "8",
    "FETCH_DEADLINE": "30",  # the default: a busy parser pool must not time fetches out
    "PARSER_CPU_SECONDS": "1.5",
    "PARSER_MEMORY_MB": str(PARSER_MEMORY_MB),
    "RECONCILE_EVERY_SECONDS": "1",
}


def unforeseen() -> list[Hostile]:
    """Documents within every cap of the scan: only the parser process's limits hold."""
    return [
        Hostile("heavy-feed", heavy_feed(), code="parse_timeout"),  # ~3.4 s of CPU
        Hostile(
            "millions-of-json-objects",
            empty_json_objects(),  # ~240 MB to decode
            "application/feed+json",
            code="parse_limit",
        ),
    ]


class PeakRss:
    """Samples the RSS of every process under a dyno until stopped; keeps each one's peak."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, tuple[str, int]] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()

    def _sample(self) -> None:
        # The supervisor's children are the worker processes (and RQ's scheduler); their
        # children are the parser processes.
        try:
            children = psutil.Process(self.root).children()
        except psutil.Error:
            return
        self._record("worker", [psutil.Process(self.root), *children])
        for child in children:
            try:
                self._record("parser", child.children())
            except psutil.Error:
                continue  # a process that has just ended

    def _record(self, kind: str, processes: list[psutil.Process]) -> None:
        for proc in processes:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            if rss > self.peaks.get(proc.pid, ("", 0))[1]:
                self.peaks[proc.pid] = (kind, rss)

    @contextmanager
    def running(self) -> Iterator[PeakRss]:
        def loop() -> None:
            while not self._stop.wait(0.02):
                try:
                    self._sample()
                except Exception as exc:  # noqa: BLE001 - a sampler must outlive any race
                    self.errors.append(repr(exc))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    def highest(self, kind: str) -> int:
        return max((rss for k, rss in self.peaks.values() if k == kind), default=0)


def _submit(client: FlaskClient, url: str) -> str:
    response = client.post("/feeds", json={"url": url})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["fetch"]["id"]


def _fetches(db: Database) -> dict[str, Fetch]:
    with db.session() as session:
        return {str(f.id): f for f in session.scalars(select(Fetch))}


@dataclass
class Run:
    """What a worker dyno made of the submitted feeds."""

    submitted: dict[str, tuple[str, Hostile | None]]  # fetch id: (path, hostile case or None)
    fetches: dict[str, Fetch]
    worker_peak: int  # highest RSS of a process of the dyno other than the parsers
    parser_peak: int  # highest RSS of a parser process
    workers_at_start: set[int]
    workers_at_end: set[int]
    output: str


def _run(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
    hostile: list[Hostile],
    normal: int,
) -> Run:
    """Submit `normal` normal feeds with the `hostile` ones between them, run a dyno
    until every fetch is final (and a while longer), sampling RSS throughout."""
    submitted: dict[str, tuple[str, Hostile | None]] = {}
    for n in range(normal):
        url = feed_server.add(f"/normal/{n}.xml", NORMAL)
        submitted[_submit(client, url)] = (f"/normal/{n}.xml", None)
        if n < len(hostile):
            case = hostile[n]
            url = feed_server.add(
                f"/hostile/{case.name}",
                case.body,
                content_type=case.content_type,
                headers=case.headers,
            )
            submitted[_submit(client, url)] = (f"/hostile/{case.name}", case)

    dyno = start_worker(concurrency=2, **ENV)
    sampler = PeakRss(dyno.proc.pid)
    with sampler.running():

        def worker_pids() -> set[int]:
            return {w.pid for w in Worker.all(connection=redis)}

        wait_for(lambda: len(worker_pids()) == 2, timeout=30)  # RQ workers: one per thread
        workers_at_start = worker_pids()

        def all_final() -> bool:
            fetches = _fetches(db)
            return all(
                fetches[f].state in (FetchState.SUCCEEDED, FetchState.FAILED) for f in submitted
            )

        wait_for(all_final, timeout=240, interval=0.5)
        # A fetch that looped would be back within a reconciler pass (every second
        # here) or its first retry (5 s): give it the chance to show up.
        time.sleep(6)
        workers_at_end = worker_pids()
    run = Run(
        submitted,
        _fetches(db),
        sampler.highest("worker"),
        sampler.highest("parser"),
        workers_at_start,
        workers_at_end,
        dyno.output(),
    )
    print(
        f"{len(hostile)} hostile and {normal} normal feeds: peak RSS of a worker dyno process "
        f"{run.worker_peak / MIB:.1f} MiB, of a parser process {run.parser_peak / MIB:.1f} MiB"
        + (f" (sampling errors: {sampler.errors[:3]})" if sampler.errors else "")
    )
    return run


def _assert_bounded(run: Run, feed_server: FeedServer) -> None:
    """Each feed ended as it should after one attempt; no process died or grew too big."""
    for fetch_id, (path, case) in run.submitted.items():
        fetch = run.fetches[fetch_id]
        if case is None or case.code is None:
            assert fetch.state == FetchState.SUCCEEDED, (
                path,
                fetch.error_code,
                fetch.error_message,
            )
        else:
            assert fetch.state == FetchState.FAILED and fetch.error_code == case.code, (
                path,
                fetch.state,
                fetch.error_code,
                fetch.error_message,
            )
        assert feed_server.hits(path) == 1, path  # one attempt: no retry, no loop
    assert len(run.fetches) == len(run.submitted)  # and no fetch besides those submitted
    assert 0 < run.worker_peak < WORKER_RSS_LIMIT
    assert 0 < run.parser_peak < PARSER_RSS_LIMIT
    assert run.workers_at_end == run.workers_at_start  # no worker process died or was replaced
    assert "exited with signal" not in run.output


def test_normal_feeds_alone_succeed_within_the_memory_limits(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    # The baseline for the next test: the same dyno, the same normal feeds, no hostile one.
    run = _run(client, db, redis, feed_server, start_worker, [], NORMAL_FEEDS)
    _assert_bounded(run, feed_server)


# The dyno is given 240 s to finish every fetch (_run), more than the suite's 120 s per test.
@pytest.mark.timeout(300)
def test_hostile_feeds_in_flight_fail_alone_while_every_normal_feed_succeeds(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    hostile = [*corpus(), *unforeseen()]
    assert len(hostile) <= NORMAL_FEEDS
    run = _run(client, db, redis, feed_server, start_worker, hostile, NORMAL_FEEDS)
    _assert_bounded(run, feed_server)

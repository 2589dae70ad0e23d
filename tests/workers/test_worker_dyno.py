"""The worker dyno under real signals, crashes and restarts (issue: never lose a submission)."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from redis import Redis
from rq import Worker
from sqlalchemy import func, insert, select

from app.affinity import allowed_cpus, cpu_for
from app.feed_state import REFRESHABLE
from app.placement import resolve
from app.storage.db import Database
from app.storage.models import PENDING_STATES, Feed, FeedState, Fetch, FetchState
from tests.conftest import WorkerDyno, follow_all, wait_for
from tests.feedserver import FIXTURES, FeedServer, Request, Response

RSS = (FIXTURES / "example-rss20.xml").read_bytes()


def _fetch(db: Database, fetch_id: str) -> Fetch:
    with db.session() as session:
        fetch = session.get(Fetch, uuid.UUID(fetch_id))
        assert fetch is not None
        return fetch


def _state(db: Database, fetch_id: str) -> FetchState:
    return _fetch(db, fetch_id).state


def _until_state(
    db: Database, redis: Redis, fetch_id: str, state: FetchState, timeout: float
) -> None:
    """Wait for the fetch to reach ``state``; on failure, say where it and the queues were."""

    def explain() -> str:
        fetch = _fetch(db, fetch_id)
        queues = {
            key.decode().removeprefix("rq:queue:"): redis.llen(key)
            for key in redis.scan_iter("rq:queue:*")
        }
        workers = [(w.name, w.get_state()) for w in Worker.all(connection=redis)]
        return (
            f"fetch {fetch.state.value} (attempts {fetch.attempts}, crashes {fetch.crashes}, "
            f"started {fetch.started_at}); queued jobs {queues}; "
            f"workers {workers}"
        )

    wait_for(lambda: _state(db, fetch_id) == state, timeout=timeout, explain=explain)


def _submit(client: FlaskClient, url: str) -> str:
    response = client.post("/feeds", json={"url": url})
    assert response.status_code == 202
    return response.get_json()["fetch"]["id"]


class Switch:
    """A route that is slow until told otherwise."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self, _req: Request) -> Response:
        return Response(200, RSS, {"Content-Type": "application/rss+xml"}, delay=self.delay)


def _busy_worker(redis: Redis) -> Worker | None:
    for worker in Worker.all(connection=redis):
        if worker.get_state() == "busy":
            return worker
    return None


def test_sigterm_during_a_slow_fetch_requeues_it_and_it_later_succeeds(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    slow = Switch(delay=8)
    url = feed_server.route("/slow.xml", slow)
    fetch_id = _submit(client, url)
    dyno = start_worker(
        concurrency=1, SHUTDOWN_GRACE_SECONDS="1", FETCH_DEADLINE="20", FETCH_READ_TIMEOUT="20"
    )
    _until_state(db, redis, fetch_id, FetchState.RUNNING, timeout=20)

    # Heroku sends SIGTERM to every process of the dyno, and may repeat it: again
    # once the first one has started the shutdown.
    os.killpg(dyno.proc.pid, signal.SIGTERM)
    wait_for(lambda: "stopping children" in dyno.output(), timeout=10)
    os.killpg(dyno.proc.pid, signal.SIGTERM)
    assert dyno.proc.wait(15) == 0, dyno.output()

    assert _state(db, fetch_id) == FetchState.QUEUED
    assert redis.zcard("rq:failed:feedqueue-test-submissions") == 0
    slow.delay = 0
    start_worker(concurrency=1)
    wait_for(lambda: _state(db, fetch_id) == FetchState.SUCCEEDED, timeout=30)
    assert _fetch(db, fetch_id).items_new == 3


def test_sigterm_lets_a_job_that_fits_the_grace_period_finish(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    url = feed_server.route("/slowish.xml", Switch(delay=2))
    fetch_id = _submit(client, url)
    dyno = start_worker(concurrency=1, SHUTDOWN_GRACE_SECONDS="10")
    _until_state(db, redis, fetch_id, FetchState.RUNNING, timeout=20)
    os.killpg(dyno.proc.pid, signal.SIGTERM)
    assert dyno.proc.wait(20) == 0
    assert _state(db, fetch_id) == FetchState.SUCCEEDED


def test_sigkill_of_a_busy_worker_process_is_recovered_at_once(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    slow = Switch(delay=8)
    fetch_id = _submit(client, feed_server.route("/slow.xml", slow))
    dyno = start_worker(concurrency=2)
    _until_state(db, redis, fetch_id, FetchState.RUNNING, timeout=20)
    busy = wait_for(lambda: _busy_worker(redis), timeout=10)
    slow.delay = 0
    killed_at = time.monotonic()
    os.kill(busy.pid, signal.SIGKILL)  # type: ignore[union-attr]
    # The supervisor requeues the job at once; the reconciler is the backstop,
    # and the promise is a terminal state within 2 minutes either way.
    wait_for(lambda: "recovered job" in dyno.output(), timeout=10)
    wait_for(lambda: _state(db, fetch_id) == FetchState.SUCCEEDED, timeout=120, interval=0.5)
    assert time.monotonic() - killed_at < 120


def test_a_whole_dyno_killed_mid_job_is_recovered_by_another_dynos_reconciler(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    slow = Switch(delay=30)
    fetch_id = _submit(client, feed_server.route("/slow.xml", slow))
    # A short job timeout keeps this test quick; the bound scales with it.
    fast_env = {"JOB_TIMEOUT": "3", "RECONCILE_EVERY_SECONDS": "1", "FETCH_DEADLINE": "2.5"}
    first = start_worker(concurrency=1, **fast_env)
    _until_state(db, redis, fetch_id, FetchState.RUNNING, timeout=20)
    first.kill()  # SIGKILL to every process: a crashed dyno
    slow.delay = 0
    start_worker(concurrency=1, **fast_env)
    _until_state(db, redis, fetch_id, FetchState.SUCCEEDED, timeout=60)


def test_supervisor_restarts_a_crashed_worker_process(
    redis: Redis, db: Database, start_worker: Callable[..., WorkerDyno]
) -> None:
    dyno = start_worker(concurrency=2)

    def worker_pids() -> set[int]:
        return {w.pid for w in Worker.all(connection=redis)}

    wait_for(lambda: len(worker_pids()) == 2, timeout=20)
    victim = min(worker_pids())
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in worker_pids() and len(worker_pids()) == 2, timeout=20)
    assert dyno.proc.poll() is None
    assert "exited with signal SIGKILL" in dyno.output()


def test_redis_flushed_with_fetches_pending_still_completes_them(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    ids = [_submit(client, feed_server.add(f"/f{i}.xml", RSS)) for i in range(5)]
    redis.flushdb()  # the jobs are gone; the fetch rows are the promise
    start_worker(concurrency=2, RECONCILE_EVERY_SECONDS="1", RECONCILE_QUEUED_GRACE_SECONDS="1")
    for fetch_id in ids:
        wait_for(lambda fid=fetch_id: _state(db, fid) == FetchState.SUCCEEDED, timeout=30)


def test_two_dynos_fetch_each_due_feed_exactly_once(
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    count = 200
    due = datetime.now(UTC) - timedelta(seconds=5)
    with db.session() as session:
        session.execute(
            insert(Feed),
            [
                {
                    "url": feed_server.add(f"/due/{i}.xml", RSS),
                    "current_url": feed_server.url(f"/due/{i}.xml"),
                    "state": FeedState.ACTIVE,
                    "next_fetch_at": due,
                }
                for i in range(count)
            ],
        )
        session.commit()
    follow_all(db)
    env = {"SCHEDULE_EVERY_SECONDS": "0.5"}
    start_worker(concurrency=2, **env)
    start_worker(concurrency=2, **env)

    def done() -> bool:
        with db.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Fetch)
                    .where(Fetch.state == FetchState.SUCCEEDED)
                )
                == count
            )

    wait_for(done, timeout=90, interval=0.5)

    def settled() -> bool:
        # Nothing pending and nothing due: no further fetch can appear, so the
        # counts below are final (a duplicate would be pending or counted).
        with db.session() as session:
            pending = session.scalar(
                select(func.count()).select_from(Fetch).where(Fetch.state.in_(PENDING_STATES))
            )
            due = session.scalar(
                select(func.count())
                .select_from(Feed)
                .where(Feed.next_fetch_at <= func.now(), Feed.state.in_(sorted(REFRESHABLE)))
            )
            return pending == 0 and due == 0

    wait_for(settled, timeout=30, interval=0.5)
    with db.session() as session:
        per_feed = session.execute(
            select(Fetch.feed_id, func.count()).group_by(Fetch.feed_id)
        ).all()
        lags = session.scalars(select(Fetch.scheduled_for)).all()
    assert len(per_feed) == count and all(n == 1 for _, n in per_feed)
    assert all(lag is not None for lag in lags)
    assert all(feed_server.hits(f"/due/{i}.xml") == 1 for i in range(count))


def test_submissions_run_ahead_of_a_refresh_backlog(
    client: FlaskClient,
    db: Database,
    redis: Redis,
    feed_server: FeedServer,
    job_context,
    start_worker: Callable[..., WorkerDyno],
) -> None:
    from app.storage.fetches import create_fetch
    from app.storage.models import FetchTrigger

    backlog = []
    with db.session() as session:
        for i in range(30):
            feed = Feed(
                url=feed_server.add(f"/bl/{i}.xml", RSS),
                current_url=feed_server.url(f"/bl/{i}.xml"),
            )
            session.add(feed)
            session.flush()
            fetch, _ = create_fetch(session, feed.id, FetchTrigger.REFRESH)
            backlog.append(fetch.id)
        session.commit()
    for fetch_id in backlog:
        job_context.queues.enqueue_fetch(fetch_id, "refresh")
    fetch_id = _submit(client, feed_server.add("/new.xml", RSS))
    start_worker(concurrency=1, WORKER_THREADS="1")
    wait_for(lambda: _state(db, fetch_id) == FetchState.SUCCEEDED, timeout=30)
    with db.session() as session:
        mine = session.get(Fetch, uuid.UUID(fetch_id))
        earlier = session.scalar(
            select(func.count())
            .select_from(Fetch)
            .where(
                Fetch.id.in_(backlog),
                Fetch.started_at < mine.started_at,  # type: ignore[union-attr]
            )
        )
    assert earlier is not None and earlier <= 1


def test_thrashing_child_is_backed_off_not_restarted_in_a_tight_loop(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import logging, sys\n"
        "from app.workers.supervisor import Supervisor\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
        "def crash(i, n):\n"
        "    raise SystemExit(3)\n"
        "sys.exit(Supervisor(1, crash, name_for=lambda i: f'c{i}', tick=0.05).run())\n"
    )
    log = tmp_path / "supervisor.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-c", script],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        try:
            # The third back-off: the pauses have doubled twice.
            wait_for(lambda: "next start in 4 s" in log.read_text(), timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    text = log.read_text()
    before_backing_off = text.split("is thrashing", 1)[0]
    # THRASH_LIMIT quick restarts, then pauses of 1, 2, 4 s: with a 50 ms tick and
    # no back-off, it would have restarted about every 50 ms.
    assert before_backing_off.count("started child") == 5, text
    assert re.findall(r"next start in (\d+) s", text)[:3] == ["1", "2", "4"], text


def test_with_pin_cpus_each_worker_process_keeps_to_a_cpu_of_its_own(
    start_worker: Callable[..., WorkerDyno],
) -> None:
    dyno = start_worker(concurrency=2, PIN_CPUS="true", WORKER_THREADS="3")
    # Two worker processes (3 RQ threads each, and more) and RQ's scheduler.
    wait_for(lambda: sum(len(c.threads()) >= 4 for c in dyno.children()) == 2, timeout=30)
    everything = tuple(sorted(allowed_cpus()))
    supervisor, *children = dyno.cpus_by_process().values()
    pinned = [[(cpu,)] for cpu in (cpu_for(i, allowed_cpus()) for i in range(2)) if cpu is not None]
    # On one CPU there is nothing to choose: every process keeps it.
    assert sorted(children) == sorted(pinned + [[everything]] * (3 - len(pinned)))
    # The supervisor (scheduling, reconciling) is left to the kernel.
    assert supervisor == [everything]


def test_with_pin_cpus_the_parser_processes_of_pinned_workers_may_use_every_cpu(
    start_worker: Callable[..., WorkerDyno],
) -> None:
    dyno = start_worker(concurrency=2, PIN_CPUS="true", WORKER_THREADS="3")

    def parsers_cpus() -> list[set[int]]:
        return [
            os.sched_getaffinity(parser.pid)
            for worker in dyno.children()
            for parser in worker.children()
            if "parser_child" in " ".join(parser.cmdline())
        ]

    # One parser process per worker process (PARSER_PROCESSES=1), neither on its
    # worker's core alone.
    everything = set(allowed_cpus())
    wait_for(lambda: parsers_cpus() == [everything, everything], timeout=30)


def test_by_default_worker_processes_are_pinned_only_where_the_machine_looks_their_own(
    start_worker: Callable[..., WorkerDyno],
) -> None:
    dyno = start_worker(concurrency=2, WORKER_THREADS="3")  # PIN_CPUS unset: auto
    placement = resolve("auto", allowed_cpus())  # what this machine's files say
    wait_for(lambda: sum(len(c.threads()) >= 4 for c in dyno.children()) == 2, timeout=30)
    everything = tuple(sorted(allowed_cpus()))
    supervisor, *children = dyno.cpus_by_process().values()
    cpus = [cpu_for(i, allowed_cpus()) for i in range(2)] if placement.pin else []
    pinned = [[(cpu,)] for cpu in cpus if cpu is not None]
    assert sorted(children) == sorted(pinned + [[everything]] * (3 - len(pinned)))
    assert supervisor == [everything]
    # The steal sample differs between the two readings; the rest does not.
    assert placement.summary("worker").split(", steal time")[0] in dyno.output()

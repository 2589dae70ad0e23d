"""Real dynos: a worker dyno and a gunicorn web dyno count their processes, drop dead
ones from the live gauges, and log runtime-metrics lines from their root process."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import requests
from flask.testing import FlaskClient

from tests.conftest import WorkerDyno, wait_for
from tests.dynos import WebDyno
from tests.observability.conftest import TOKEN, Samples, parse, total

MEMORY = "feedqueue_process_resident_memory_bytes"


def _pids(samples: Samples, role: str) -> set[str]:
    return {
        dict(labels)["pid"]
        for name, labels in samples
        if name == MEMORY and ("role", role) in labels
    }


def _children(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children()]


def test_worker_dyno_counts_live_children_and_forgets_a_killed_one(
    start_worker: Callable[..., WorkerDyno],
    scrape: Callable[[], Samples],
    worker_extra_env: dict[str, str],
) -> None:
    dyno = start_worker(concurrency=2, WORKER_THREADS="1", **worker_extra_env)

    def worker_children() -> set[str]:
        # The dyno's children are two worker processes and RQ's scheduler process.
        return {str(pid) for pid in _children(dyno.proc.pid)} & _pids(scrape(), "worker")

    children = wait_for(lambda: len(worker_children()) == 2 and worker_children())
    victim = int(sorted(children)[0])  # type: ignore[arg-type]
    os.kill(victim, signal.SIGKILL)
    # The supervisor replaces the child and removes the dead one's live gauges.
    wait_for(lambda: str(victim) not in _pids(scrape(), "worker"))
    wait_for(lambda: len(worker_children()) == 2)
    assert str(victim) not in _pids(scrape(), "worker")


def test_worker_dyno_logs_runtime_metrics_for_the_whole_dyno(
    start_worker: Callable[..., WorkerDyno], worker_extra_env: dict[str, str]
) -> None:
    dyno = start_worker(
        concurrency=1, WORKER_THREADS="1", RUNTIME_METRICS_INTERVAL="0.2", **worker_extra_env
    )
    line = wait_for(
        lambda: next((ln for ln in dyno.output().splitlines() if "sample#memory_rss" in ln), None)
    )
    assert str(line).startswith("at=info source=worker dyno=")
    assert "sample#load_avg_1m=" in str(line) and "sample#memory_quota=" in str(line)


class MetricsWebDyno(WebDyno):
    """A web dyno with two gunicorn workers, scraped with the metrics token."""

    def metrics(self) -> Samples:
        response = self.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        return parse(response.text)


@pytest.fixture
def web_dyno(worker_env: dict[str, str], tmp_path: Path) -> Iterator[MetricsWebDyno]:
    # No PROMETHEUS_MULTIPROC_DIR: the master must make a per-dyno folder itself.
    env = {k: v for k, v in worker_env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(METRICS_TOKEN=TOKEN, RUNTIME_METRICS_INTERVAL="0.2", DYNO="web.1")
    dyno = MetricsWebDyno(env, tmp_path / "web.log", workers=2)
    wait_for(dyno.healthy, timeout=30)
    yield dyno
    dyno.terminate(30)


def _up(dyno: WebDyno) -> bool:
    assert dyno.proc.poll() is None, dyno.output()
    try:
        return dyno.get("/readyz").status_code == 200
    except requests.ConnectionError:
        return False


def test_web_dyno_merges_its_workers_and_forgets_a_killed_one(web_dyno: WebDyno) -> None:
    wait_for(lambda: _up(web_dyno))
    # Every scrape sees both workers, whichever one answers it.
    wait_for(lambda: total(web_dyno.metrics(), "feedqueue_processes_alive", role="web") == 2)
    workers = _children(web_dyno.proc.pid)
    assert _pids(web_dyno.metrics(), "web") == {str(pid) for pid in workers}
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(set(_children(web_dyno.proc.pid)) - {workers[0]}) == 2)
    wait_for(lambda: str(workers[0]) not in _pids(web_dyno.metrics(), "web"))
    wait_for(lambda: total(web_dyno.metrics(), "feedqueue_processes_alive", role="web") == 2)


def test_web_dyno_logs_runtime_metrics_and_one_line_per_request(web_dyno: WebDyno) -> None:
    wait_for(lambda: _up(web_dyno))
    web_dyno.get("/healthz", headers={"X-Request-ID": "req-42"})
    wait_for(lambda: "request_id=req-42" in web_dyno.output())
    wait_for(lambda: "source=web.1 dyno=" in web_dyno.output())
    lines = web_dyno.output().splitlines()
    assert sum("request_id=req-42" in line for line in lines) == 1
    runtime = next(line for line in lines if "source=web.1" in line)
    assert "sample#memory_total=" in runtime and "sample#memory_pgpgout=" in runtime


def test_client_sees_request_id_header(client: FlaskClient) -> None:
    assert client.get("/readyz", headers={"X-Request-ID": "r1"}).headers["X-Request-ID"] == "r1"

"""Parser processes: real child processes, their limits, and what the worker sees of them."""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from app.pipeline import FetchError, FetchLimits, PageLinks, ParserPool, parse_feed, read_bounded
from app.pipeline.parser_pool import CPU_TO_WALL
from app.pipeline.parser_process import Answers, ParserProcess
from tests.conftest import wait_for
from tests.dynos import run_python
from tests.hostile import empty_json_objects, heavy_feed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE = "https://feeds.example.com/feed.xml"
XML = {"content-type": "application/rss+xml"}
LIMITS = FetchLimits()


@pytest.fixture
def pool() -> Iterator[ParserPool]:
    pool = ParserPool(1)
    yield pool
    pool.close()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def only_pid(pool: ParserPool) -> int:
    (pid,) = pool.pids()
    return pid


def test_document_read_in_a_parser_process_equals_the_one_read_here(pool: ParserPool) -> None:
    for name in ("rss20.xml", "atom10.xml", "jsonfeed11.json", "shiftjis.xml"):
        kind = "application/feed+json" if name.endswith(".json") else "application/rss+xml"
        headers = {"content-type": kind}
        here = parse_feed(fixture(name), headers, BASE)
        assert pool.read(fixture(name), headers, BASE, LIMITS).result() == here


def test_html_page_comes_back_as_its_feed_links(pool: ParserPool) -> None:
    page = fixture("page_with_feeds.html")
    outcome = pool.read(page, {"content-type": "text/html"}, "https://site.example/", LIMITS)
    assert isinstance(outcome.result(), PageLinks) and outcome.result().links  # type: ignore[union-attr]
    without = pool.read(page, {"content-type": "text/html"}, BASE, LIMITS, discover=False)
    assert without.error is not None and without.error.code == "not_a_feed"


def test_one_parser_process_reads_document_after_document(pool: ParserPool) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    first = only_pid(pool)
    pool.read(fixture("atom10.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) == first


def test_parser_process_holds_no_descriptor_of_its_worker_and_loads_no_app(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    # 0 is /dev/null, 1 and 2 the worker's stderr, 3 and 4 its two pipes: no socket.
    assert sorted(fds) == [0, 1, 2, 3, 4] and fds[0] == os.devnull
    assert not any(target.startswith("socket:") for target in fds.values())
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "nh3" in maps and "psycopg2" not in maps and "sqlalchemy" not in maps


def test_document_past_the_cpu_budget_is_stopped_and_its_process_replaced(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    before = only_pid(pool)
    reading = pool.read(heavy_feed(300), XML, BASE, replace(LIMITS, parser_cpu_seconds=0.1))
    assert reading.error is not None and reading.error.code == "parse_timeout"
    assert "0.1 s of CPU" in reading.error.message
    assert reading.usage.replaced and not psutil.pid_exists(before)
    assert pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) != before


def test_document_past_the_memory_limit_is_stopped_and_its_process_replaced(
    pool: ParserPool,
) -> None:
    limits = replace(LIMITS, parser_memory_mb=100)
    reading = pool.read(empty_json_objects(), {"content-type": "application/json"}, BASE, limits)
    assert reading.error is not None and reading.error.code == "parse_limit"
    assert "100 MB" in reading.error.message
    assert reading.usage.replaced
    assert reading.usage.peak_rss is not None and reading.usage.peak_rss < 100 * 2**20
    assert pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()


def test_parser_process_killed_while_idle_is_replaced_without_losing_the_document(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    assert pool.read(fixture("atom10.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) != pid


def test_silent_parser_process_is_killed_at_three_times_its_cpu_budget(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    os.kill(pid, signal.SIGSTOP)  # answers nothing, and uses no CPU either
    reading = pool.read(fixture("rss20.xml"), XML, BASE, replace(LIMITS, parser_cpu_seconds=0.2))
    assert reading.error is not None and reading.error.code == "parse_timeout"
    assert f"{0.2 * CPU_TO_WALL:g} s" in reading.error.message
    assert not psutil.pid_exists(pid) and only_pid(pool) != pid  # its successor waits


def test_parser_short_of_a_core_past_its_wall_budget_is_waited_for(
    pool: ParserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy machine: the parser is runnable and within its CPU budget, but gets no core
    # until after three times its CPU budget has passed (SIGSTOP stands in for that).
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    monkeypatch.setattr(ParserProcess, "_computing", lambda self, budget, spent=0.0: True)
    os.kill(pid, signal.SIGSTOP)
    limits = replace(LIMITS, parser_cpu_seconds=0.1)
    resume = threading.Timer(0.1 * CPU_TO_WALL * 2, os.kill, (pid, signal.SIGCONT))
    resume.start()
    reading = pool.read(fixture("rss20.xml"), XML, BASE, limits)
    resume.join()
    assert reading.result() and only_pid(pool) == pid


def test_parser_short_of_a_core_is_stopped_at_its_patience(
    pool: ParserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    monkeypatch.setattr(ParserProcess, "_computing", lambda self, budget, spent=0.0: True)
    os.kill(pid, signal.SIGSTOP)  # never gets its core back
    reading = pool.read(fixture("rss20.xml"), XML, BASE, replace(LIMITS, parser_cpu_seconds=0.1))
    assert reading.error is not None and reading.error.code == "parse_timeout"
    assert not psutil.pid_exists(pid)


def test_parser_short_of_a_core_is_stopped_at_the_fetch_deadline(
    pool: ParserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    monkeypatch.setattr(ParserProcess, "_computing", lambda self, budget, spent=0.0: True)
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 0.5
    limits = replace(LIMITS, parser_cpu_seconds=0.1)
    reading = pool.read(fixture("rss20.xml"), XML, BASE, limits, deadline_at=deadline)
    assert reading.error is not None and reading.error.code == "timeout"
    assert "downloaded, but reading it did not finish" in reading.error.message  # not the server
    assert not psutil.pid_exists(pid)


def test_only_a_runnable_parser_within_its_cpu_budget_counts_as_computing(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    (lane,) = pool._lanes
    child = lane.child
    spinner = ParserProcess.__new__(ParserProcess)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        spinner.proc = busy
        wait_for(lambda: spinner._computing(60.0))
        assert not spinner._computing(0.0)  # past its CPU budget: not to be waited for
        # The budget is per document: CPU used before this one does not count.
        assert spinner._computing(0.5, spent=spinner._cpu_seconds())
        # Idle, waiting for a document: once its answer is sent, a loaded machine may
        # leave it runnable a moment longer before it is back at its read.
        wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_SLEEPING)
        assert not child._computing(60.0)
        os.kill(child.pid, signal.SIGSTOP)
        wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_STOPPED)
        assert not child._computing(60.0)
    finally:
        busy.kill()
        busy.wait()
        os.kill(child.pid, signal.SIGCONT)


def test_silent_parser_process_is_killed_at_the_fetch_deadline_if_that_comes_first(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    os.kill(pid, signal.SIGSTOP)
    reading = pool.read(fixture("rss20.xml"), XML, BASE, LIMITS, deadline_at=time.monotonic() + 0.3)
    assert reading.error is not None and reading.error.code == "timeout"
    assert reading.error.transient and only_pid(pool) != pid


def test_parser_process_still_starting_is_kept_when_the_fetch_runs_out_of_time(
    pool: ParserPool,
) -> None:
    with pytest.raises(FetchError) as info:
        pool.read(fixture("rss20.xml"), XML, BASE, LIMITS, deadline_at=time.monotonic())
    assert info.value.code == "timeout" and info.value.transient
    starting = only_pid(pool)
    assert pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) == starting


def test_pool_started_ahead_has_its_processes_before_the_first_document() -> None:
    pool = ParserPool(2)
    try:
        pool.start()
        started = set(pool.pids())
        assert len(started) == 2 and all(psutil.pid_exists(pid) for pid in started)
        assert pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
        assert set(pool.pids()) == started
    finally:
        pool.close()


def test_parser_process_outlives_sigterm_and_leaves_when_its_pipe_closes(
    pool: ParserPool,
) -> None:
    # Heroku signals every process of the dyno; the worker decides when to stop.
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    os.kill(pid, signal.SIGTERM)
    assert pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) == pid
    pool.close()
    assert not psutil.pid_exists(pid)


def test_worker_waits_for_a_free_parser_only_as_long_as_it_may(pool: ParserPool) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    os.kill(pid, signal.SIGSTOP)
    slow = threading.Thread(
        target=pool.read,
        args=(fixture("rss20.xml"), XML, BASE, replace(LIMITS, parser_cpu_seconds=1)),
    )
    slow.start()
    wait_for(lambda: pool.pids() == [])  # the only parser is taken
    with pytest.raises(FetchError) as info:
        pool.read(fixture("rss20.xml"), XML, BASE, LIMITS, deadline_at=time.monotonic() + 0.05)
    assert info.value.code == "timeout" and info.value.transient
    slow.join()


def _read_in_thread(pool: ParserPool, name: str, limits: FetchLimits, deadline: float) -> dict:
    """Start reading fixture `name` in a thread; the dict gets its reading or error."""
    out: dict = {}

    def read() -> None:
        try:
            out["reading"] = pool.read(fixture(name), XML, BASE, limits, deadline_at=deadline)
        except BaseException as exc:
            out["error"] = exc

    out["thread"] = threading.Thread(target=read)
    out["thread"].start()
    return out


def _written(pool: ParserPool, count: int) -> bool:
    with pool._lock:
        return sum(r.written for lane in pool._lanes for r in lane.requests) == count


def _stopped_parser_reading(pool: ParserPool) -> tuple[int, dict]:
    """The pool's parser, stopped (SIGSTOP) with a first document written to it; its pid
    and that document's reading (rss20.xml, deadline 20 s)."""
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    os.kill(pid, signal.SIGSTOP)
    first = _read_in_thread(pool, "rss20.xml", LIMITS, time.monotonic() + 20)
    wait_for(lambda: _written(pool, 1))
    return pid, first


def test_next_document_waits_in_the_pipe_of_a_busy_parser_and_both_are_answered_in_turn(
    pool: ParserPool,
) -> None:
    pid, first = _stopped_parser_reading(pool)  # so that both are in its pipe at once
    second = _read_in_thread(pool, "atom10.xml", LIMITS, time.monotonic() + 20)
    wait_for(lambda: _written(pool, 2))
    os.kill(pid, signal.SIGCONT)
    for reading, name in ((first, "rss20.xml"), (second, "atom10.xml")):
        reading["thread"].join()
        assert reading["reading"].result() == parse_feed(fixture(name), XML, BASE)
    assert only_pid(pool) == pid


def test_third_document_for_a_full_parser_waits_for_room_unwritten(pool: ParserPool) -> None:
    # DEPTH is 2: the one it reads and the next; a third is not written until one leaves.
    pid, first = _stopped_parser_reading(pool)
    second = _read_in_thread(pool, "atom10.xml", LIMITS, time.monotonic() + 20)
    wait_for(lambda: _written(pool, 2))
    with pytest.raises(FetchError) as info:
        pool.read(fixture("rss20.xml"), XML, BASE, LIMITS, deadline_at=time.monotonic() + 0.3)
    assert info.value.code == "timeout" and info.value.transient
    assert _written(pool, 2)
    os.kill(pid, signal.SIGCONT)
    for reading in (first, second):
        reading["thread"].join()
        assert reading["reading"].result()
    assert only_pid(pool) == pid


def test_document_queued_behind_one_that_ends_its_parser_is_read_by_the_successor(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    now = time.monotonic()
    heavy: dict = {}
    limits = replace(LIMITS, parser_cpu_seconds=0.1)

    def read_heavy() -> None:
        heavy["reading"] = pool.read(heavy_feed(300), XML, BASE, limits, deadline_at=now + 20)

    thread = threading.Thread(target=read_heavy)
    thread.start()
    wait_for(lambda: _written(pool, 1), interval=0.001)
    os.kill(pid, signal.SIGSTOP)  # keeps it on the heavy document until the next is queued
    queued = _read_in_thread(pool, "atom10.xml", LIMITS, now + 21)
    wait_for(lambda: _written(pool, 2))
    os.kill(pid, signal.SIGCONT)
    thread.join()
    queued["thread"].join()
    assert heavy["reading"].error.code == "parse_timeout" and heavy["reading"].usage.replaced
    assert queued["reading"].result() == parse_feed(fixture("atom10.xml"), XML, BASE)
    assert not psutil.pid_exists(pid) and only_pid(pool) != pid


def test_document_whose_deadline_passes_in_the_queue_is_retried_and_its_parser_replaced(
    pool: ParserPool,
) -> None:
    pid, first = _stopped_parser_reading(pool)
    queued = _read_in_thread(pool, "atom10.xml", LIMITS, time.monotonic() + 0.5)
    queued["thread"].join()
    assert queued["error"].code == "timeout" and queued["error"].transient
    os.kill(pid, signal.SIGCONT)
    first["thread"].join()
    assert first["reading"].result() == parse_feed(fixture("rss20.xml"), XML, BASE)
    # The queued document's answer is nobody's: its parser is replaced, not waited for.
    wait_for(lambda: not psutil.pid_exists(pid))
    assert pool.read(fixture("atom10.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) != pid


def test_answer_nobody_waits_for_any_more_gets_its_parser_replaced(pool: ParserPool) -> None:
    # RQ stops a job that ran out of time by raising an exception in its thread.
    pid, first = _stopped_parser_reading(pool)
    second = _read_in_thread(pool, "atom10.xml", LIMITS, time.monotonic() + 20)
    wait_for(lambda: _written(pool, 2))
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(second["thread"].ident), ctypes.py_object(TimeoutError)
    )
    os.kill(pid, signal.SIGCONT)
    first["thread"].join()
    second["thread"].join()
    assert first["reading"].result() == parse_feed(fixture("rss20.xml"), XML, BASE)
    assert isinstance(second["error"], TimeoutError)
    wait_for(lambda: not psutil.pid_exists(pid))
    assert pool.read(fixture("atom10.xml"), XML, BASE, LIMITS).result()
    assert only_pid(pool) != pid


def test_parser_failure_reaches_the_worker_as_an_error_not_as_a_result(
    pool: ParserPool,
) -> None:
    pool.read(fixture("rss20.xml"), XML, BASE, LIMITS).result()
    pid = only_pid(pool)
    with pytest.raises(RuntimeError, match="the parser failed"):
        pool.read(b"<rss/>", {"content-type": 5}, BASE, LIMITS).result()  # type: ignore[dict-item]
    assert only_pid(pool) != pid  # that process is not trusted again


def test_answers_may_hold_only_the_result_classes() -> None:
    import io

    assert Answers(io.BytesIO(pickle.dumps(parse_feed(fixture("rss20.xml"), XML, BASE)))).load()
    with pytest.raises(pickle.UnpicklingError, match="may not send posix.system"):
        Answers(io.BytesIO(pickle.dumps(os.system))).load()


def test_no_parser_processes_means_parsing_in_this_process() -> None:
    limits = replace(LIMITS, parser_processes=0)
    before = {p.pid for p in psutil.Process().children()}
    assert read_bounded(fixture("rss20.xml"), XML, BASE, limits)
    assert {p.pid for p in psutil.Process().children()} == before


def _parser_cpus_of_a_pinned_worker(setup: str = "pass") -> tuple[list[int], list[int]]:
    """In a fresh Python kept to its lowest CPU, as PIN_CPUS keeps a worker process: the
    CPUs of a parser process it starts after ``setup``, and the CPUs it had before."""
    out = run_python(
        "import json, os; from app.pipeline import parser_process as pp;"
        "cpus = os.sched_getaffinity(0); os.sched_setaffinity(0, {min(cpus)});"
        f"{setup};"
        "child = pp.ParserProcess();"
        "print(json.dumps([sorted(os.sched_getaffinity(child.pid)), sorted(cpus)]));"
        "child.proc.kill()"
    )
    child, before = json.loads(out)
    return child, before


def test_a_parser_process_of_a_pinned_worker_runs_on_every_cpu_it_is_given() -> None:
    child, before = _parser_cpus_of_a_pinned_worker("pp.set_parser_cpus(cpus)")
    assert child == before


def test_a_parser_process_inherits_its_workers_cpu_unless_given_others() -> None:
    child, before = _parser_cpus_of_a_pinned_worker()
    assert child == [min(before)]

"""Scenarios 3-7 and the worker half of 8: how fast and how far the worker dyno goes.

3. Time to items: sequential submissions of fast feeds to an idle worker.
4. Worker CPU efficiency: feeds of 50 new items, per worker process, against
   the parse-only limit (``parse_feed`` on the same documents, this process, and in a
   parser process as the worker runs it).
5. Unchanged feeds: due feeds with stored validators, answered 304.
6. Freshness at scale: many due feeds with realistic latency, feeds per hour.
7. Scale-out: 4 and 6 with 1, 2, 4 processes and two ``worker.py`` side by side.

Also: clients that honour ``Retry-After`` (submit, wait what the 202 says, poll
and wait what each answer says, until the items are there), and the first fetch
of many new feeds (submissions, a job each) at scenario 6's feed-server latency.
Every feed is on one of FEED_HOSTS loopback hosts (bench.stack.feed_url), so the
per-host politeness budget stays at its defaults.
"""

from __future__ import annotations

import contextlib
import copy
import io
import statistics
import time
import urllib.request
from collections.abc import Callable, Iterator

import requests

from bench import memory
from bench.data import (
    creation_to_finish_ms,
    finished_between,
    outcome,
    seed_due_feeds,
    submit_feeds,
    wait_all_finished,
)
from bench.modes import Mode
from bench.stack import (
    FEED_HOSTS,
    UNPINNED,
    Proc,
    Services,
    feed_base,
    feed_url,
    reset_data,
    running,
    setting_default,
    start_feedserver,
    start_web,
    start_worker,
    web_url,
)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return round(ordered[rank], 2)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "max_ms": round(max(values), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def time_to_items(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 3: submit, poll every 5 ms until succeeded; one submission at a time."""
    reset_data(services)
    feeds = start_feedserver("--latency", "zero", "--items", "20")
    web = start_web(services)
    worker = start_worker(services)
    client_ms: list[float] = []
    states: dict[str, int] = {}
    with running(feeds, web, worker):
        time.sleep(3)  # idle worker: nothing queued, children waiting on Redis
        http = requests.Session()
        # The bench user's API token: its lookup is part of each request's cost.
        http.headers.update(services.user.headers())
        for n in range(1, mode.latency_submissions + 1):
            start = time.perf_counter()
            answer = http.post(web_url("/feeds"), json={"url": feed_url(n)})
            answer.raise_for_status()
            status_url = web_url(answer.json()["status_url"])
            while True:
                state = http.get(status_url).json()["state"]
                if state in ("succeeded", "failed"):
                    break
                time.sleep(0.005)
            client_ms.append((time.perf_counter() - start) * 1000)
            states[state] = states.get(state, 0) + 1
    return {
        "client_submit_to_succeeded": _summary(client_ms),
        "db_created_to_finished": _summary(creation_to_finish_ms(services)),
        "states": states,
        "poll_interval_ms": 5,
    }


def _documents(count: int, first: int) -> list[tuple[bytes, dict[str, str], str]]:
    docs = []
    for n in range(first, first + count):
        url = f"{feed_base()}{n}.xml"
        with urllib.request.urlopen(url, timeout=10) as r:
            docs.append((r.read(), dict(r.headers.items()), url))
    return docs


def _docs_per_s(parse: Callable[[bytes, dict[str, str], str], object], seconds: float) -> float:
    docs = _documents(100, 900_000_000)
    for body, headers, url in docs[:10]:  # warm-up
        parse(body, headers, url)
    parsed = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for body, headers, url in docs:
            parse(body, headers, url)
        parsed += len(docs)
    return parsed / (time.perf_counter() - start)


def _feedparser_defaults(body: bytes, headers: dict[str, str], url: str) -> object:
    import feedparser

    return feedparser.parse(io.BytesIO(body), response_headers=headers)


@contextlib.contextmanager
def stock_feedparser() -> Iterator[None]:
    """feedparser's own deep copies while its limit is measured: the app swaps in flat
    ones (app/pipeline/parse.py), which would make the limit the app's. Expat stays the
    parser, as in the app."""
    import feedparser.mixin

    flat = feedparser.mixin.copy
    feedparser.mixin.copy = copy
    try:
        yield
    finally:
        feedparser.mixin.copy = flat


def reference_rates(seconds: float) -> dict[str, float]:
    """Documents per second, in this process now, of ``feedparser.parse`` with its
    defaults on feed-server documents and of the app's whole parse step
    (``app.pipeline.parse.parse_feed``: feedparser, then nh3 and item building)."""
    from app.pipeline.parse import parse_feed

    with stock_feedparser():
        feedparser_rate = _docs_per_s(_feedparser_defaults, seconds)
    return {
        "docs_per_s": feedparser_rate,
        "parse_feed_docs_per_s": _docs_per_s(parse_feed, seconds),
    }


def parse_only_rate(seconds: float = 3.0) -> dict[str, float]:
    """The parse-only limit: :func:`reference_rates`, and the app's parse step in a
    parser process, as the worker runs it."""
    rates = reference_rates(seconds)
    feedparser_rate, app_rate = rates["docs_per_s"], rates["parse_feed_docs_per_s"]
    isolated = _parser_process_rate(seconds)
    return {
        "docs_per_s": round(feedparser_rate, 1),
        "ms_per_doc": round(1000 / feedparser_rate, 3),
        "parse_feed_docs_per_s": round(app_rate, 1),
        "parse_feed_ms_per_doc": round(1000 / app_rate, 3),
        "parser_process_docs_per_s": isolated["docs_per_s"],
        "parser_process_ms_per_doc": round(1000 / isolated["docs_per_s"], 3),
        "parser_process_cpu_ms_per_doc": isolated["cpu_ms_per_doc"],
        "bytes_per_doc": len(_documents(1, 900_000_000)[0][0]),
    }


def _parser_process_rate(seconds: float) -> dict[str, float]:
    """The app's parse step as the worker runs it: in a parser process, from one thread."""
    from app.pipeline import FetchLimits, ParserPool
    from bench.parse_cost import rate

    docs = _documents(100, 900_000_000)
    _body, headers, url = docs[0]
    pool = ParserPool(1)
    try:
        return rate(
            lambda body: pool.read(body, headers, url, FetchLimits()).result(),
            [body for body, _headers, _url in docs],
            seconds,
        )
    finally:
        pool.close()


def _drain_run(
    services: Services, count: int, workers: list[dict[str, object]], *, refresh: bool = False
) -> dict[str, object]:
    """Submit ``count`` fetches with no worker running, then time workers draining them.

    With ``refresh`` the feeds are due for refresh instead: the workers' scheduler
    creates the fetches, REFRESH_BATCH_SIZE to a job.
    """
    reset_data(services)
    if refresh:
        seed_due_feeds(services, feed_base(), 1, count, etag=False, hosts=FEED_HOSTS)
    else:
        submit_feeds(services, feed_base(), 1, count, hosts=FEED_HOSTS)
    procs = [start_worker(services, f"worker{i}", **env) for i, env in enumerate(workers)]
    with running(*procs):
        with memory.Sampler({p.name: p for p in procs}) as sampler:
            result = wait_all_finished(services, count, timeout=600)
            cpu = sum(p.cpu_seconds() for p in procs)
    assert result.first_started is not None and result.last_finished is not None
    span = result.last_finished - result.first_started
    processes = sum(int(str(env.get("WORKER_CONCURRENCY", 2))) for env in workers)
    return {
        "path": "refreshes (batched jobs)" if refresh else "submissions (a job each)",
        "workers": workers,
        "processes": processes,
        "feeds": count,
        "succeeded": result.succeeded,
        "failed": result.failed,
        "seconds": round(span, 2),
        "feeds_per_s": round(result.finished / span, 1),
        "feeds_per_s_per_process": round(result.finished / span / processes, 1),
        "worker_cpu_s_per_feed_ms": round(cpu / max(1, result.finished) * 1000, 2),
        "memory_peak_mib": sampler.peak_total,
    }


#: Seconds of each reference measurement taken around a drain (two, both parsers).
AROUND_SECONDS = 2.0


def _around(
    drain: Callable[[], dict[str, object]], before: dict[str, float] | None = None
) -> dict[str, object]:
    """A drain run with the reference rates measured just before and just after it.

    On a shared machine the cores' speed moves from minute to minute (the reference
    taken at the start of two full runs an hour apart differed by 8 %), so each run is
    compared with the reference of its own minutes: the mean of the two, in ``reference``.
    ``before``: a reading already taken (the previous drain's after), not measured again.
    """
    if before is None:
        before = reference_rates(AROUND_SECONDS)
    run = drain()
    after = reference_rates(AROUND_SECONDS)
    run["reference"] = {
        key: {
            "before": round(before[key], 1),
            "after": round(after[key], 1),
            "mean": round((before[key] + after[key]) / 2, 1),
        }
        for key in before
    }
    return run


def efficiency(run: dict[str, object], reference: str = "docs_per_s") -> float:
    """A drain's feeds per second per process over the reference rate measured around it."""
    around = run["reference"][reference]["mean"]  # type: ignore[index]
    return round(float(run["feeds_per_s_per_process"]) / around, 3)  # type: ignore[arg-type]


def cpu_efficiency(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 4 (and its scale-out runs for 7)."""
    feeds = start_feedserver("--latency", "zero", "--items", "50")
    with running(feeds):
        limit = parse_only_rate()
        one_process = [{"WORKER_CONCURRENCY": 1}]
        unpinned = [{"WORKER_CONCURRENCY": 1, **UNPINNED}]

        # One drain's reading after is the next one's before: only the next drain's
        # set-up comes between them, as between a fresh reading and its drain.
        last: dict[str, float] | None = None

        def drain(workers: list[dict[str, object]], *, refresh: bool = False) -> dict[str, object]:
            nonlocal last
            run = _around(
                lambda: _drain_run(services, mode.cpu_feeds, workers, refresh=refresh), last
            )
            last = {key: r["after"] for key, r in run["reference"].items()}  # type: ignore[attr-defined]
            return run

        runs = {
            "1 process": drain(one_process),
            "1 process, refreshes": drain(one_process, refresh=True),
            "1 process, 1 thread": drain([{"WORKER_CONCURRENCY": 1, "WORKER_THREADS": 1}]),
        }
        if mode.comparisons:
            runs["1 process, PIN_CPUS=false"] = drain(unpinned)
            runs["1 process, refreshes, PIN_CPUS=false"] = drain(unpinned, refresh=True)
        if mode.scale_out:
            for k in (2, 4):
                runs[f"{k} processes"] = drain([{"WORKER_CONCURRENCY": k}])
                runs[f"{k} processes, refreshes"] = drain([{"WORKER_CONCURRENCY": k}], refresh=True)
            runs["2 x worker.py (2 processes each)"] = drain(
                [{"WORKER_CONCURRENCY": 2}, {"WORKER_CONCURRENCY": 2}]
            )

    out: dict[str, object] = {
        "parse_only": limit,
        "runs": runs,
        "efficiency": efficiency(runs["1 process"]),
        "efficiency_refreshes": efficiency(runs["1 process, refreshes"]),
        "efficiency_vs_parse_feed": efficiency(runs["1 process"], "parse_feed_docs_per_s"),
        "efficiency_refreshes_vs_parse_feed": efficiency(
            runs["1 process, refreshes"], "parse_feed_docs_per_s"
        ),
    }
    if mode.comparisons:
        out["efficiency_unpinned"] = efficiency(runs["1 process, PIN_CPUS=false"])
        out["efficiency_refreshes_unpinned"] = efficiency(
            runs["1 process, refreshes, PIN_CPUS=false"]
        )
    return out


def _window_rate(
    services: Services,
    procs: list[Proc],
    *,
    warmup: float,
    seconds: float,
    on_sample: Callable[[], None] | None = None,
) -> dict[str, object]:
    """Fetches finished per second in a window after ``warmup``, with memory peaks."""
    with memory.Sampler({p.name: p for p in procs}) as sampler:
        time.sleep(warmup)
        start = time.time()
        time.sleep(seconds)
        end = time.time()
        done = finished_between(services, start, end)
        at_end = {p.name: memory.snapshot(p) for p in procs}
    return {
        "window_s": round(end - start, 1),
        "finished": done,
        "per_s": round(done / (end - start), 1),
        "per_hour_extrapolated": int(done / (end - start) * 3600),
        "memory_peak_total_mib": sampler.peak_total,
        "memory_peak_mib": sampler.peaks,
        "memory_at_end_mib": at_end,
        "state": outcome(services).__dict__,
    }


def unchanged_feeds(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 5: due feeds whose server answers 304, one worker.py."""
    out: dict[str, object] = {}
    feeds = start_feedserver("--latency", "zero", "--items", "20")
    with running(feeds):
        for label, env in (
            ("default settings", {}),
            ("SCHEDULE_EVERY_SECONDS=0.5", {"SCHEDULE_EVERY_SECONDS": 0.5}),
        ):
            reset_data(services)
            seed_due_feeds(
                services, feed_base(), 1, mode.unchanged_feeds, etag=True, hosts=FEED_HOSTS
            )
            worker = start_worker(services, **env)
            with running(worker):
                run = _window_rate(services, [worker], warmup=5, seconds=mode.unchanged_seconds)
            run["settings"] = env
            out[label] = run
    return out


def freshness(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 6 (and its scale-out runs for 7): realistic latency, feeds per hour."""
    out: dict[str, object] = {}
    configs: list[tuple[str, list[dict[str, object]]]] = [("1 x worker.py (defaults)", [{}])]
    if mode.scale_out:
        configs += [
            ("4 processes", [{"WORKER_CONCURRENCY": 4}]),
            ("2 x worker.py (defaults)", [{}, {}]),
        ]
    feeds = start_feedserver(
        "--latency", "realistic:300:3:5:1", "--items", "20", "--change-rate", "0.2"
    )
    with running(feeds):
        for label, workers in configs:
            reset_data(services)
            seed_due_feeds(services, feed_base(), 1, mode.fresh_feeds, etag=False, hosts=FEED_HOSTS)
            procs = [start_worker(services, f"worker{i}", **env) for i, env in enumerate(workers)]
            with running(*procs):
                run = _window_rate(services, procs, warmup=10, seconds=mode.fresh_seconds)
            run["workers"] = workers
            out[label] = run
    return out


def worker_memory_at_rest(services: Services) -> dict[str, object]:
    """Scenario 8, worker at rest: RSS of each process of an idle worker.py."""
    reset_data(services)
    worker = start_worker(services)
    with running(worker):
        time.sleep(3)
        return memory.snapshot(worker)


def _retry_after(answer: requests.Response) -> float:
    """The answer's ``Retry-After`` in seconds (HTTP's integer form; a bad one is an error)."""
    value = answer.headers.get("Retry-After")
    if value is None:
        raise RuntimeError(f"{answer.request.method} {answer.url}: no Retry-After while pending")
    return float(value)


def honouring_client(
    http: requests.Session, base_url: str, feed: str, *, timeout: float = 120.0
) -> dict[str, object]:
    """One client that does what the API says: ``POST /feeds``, sleep the 202's
    ``Retry-After``, ``GET`` the status URL and sleep each answer's ``Retry-After``
    until the fetch has finished, then read the feed's items. Returns the time from
    the POST until the items were read (ms), the hints seen and the outcome."""
    start = time.perf_counter()
    answer = http.post(f"{base_url}/feeds", json={"url": feed}, timeout=30)
    answer.raise_for_status()
    body = answer.json()
    hints = [_retry_after(answer)]
    status_url = base_url + body["status_url"]
    state = body["fetch"]["state"]
    polls = 0
    while state not in ("succeeded", "failed"):
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"{feed}: still {state} after {timeout} s")
        time.sleep(hints[-1])
        status = http.get(status_url, timeout=30)
        status.raise_for_status()
        polls += 1
        state = status.json()["state"]
        if state not in ("succeeded", "failed"):
            hints.append(_retry_after(status))
    finished_ms = (time.perf_counter() - start) * 1000
    items = http.get(f"{base_url}/api/feeds/{body['fetch']['feed_id']}/items?limit=1", timeout=30)
    items.raise_for_status()
    return {
        "state": state,
        "polls": polls,
        "retry_after_s": hints,
        "finished_ms": round(finished_ms, 1),
        "items_ms": round((time.perf_counter() - start) * 1000, 1),
        "items_seen": len(items.json()["items"]),
    }


def honouring_clients(
    base_url: str, headers: dict[str, str], feeds: list[str], concurrency: int
) -> dict[str, object]:
    """:func:`honouring_client` for each of ``feeds``, ``concurrency`` at a time (threads:
    each spends its time asleep on a hint); their times to items and the hints seen."""
    from concurrent.futures import ThreadPoolExecutor

    def one(feed: str) -> dict[str, object]:
        with requests.Session() as http:
            http.headers.update(headers)
            return honouring_client(http, base_url, feed)

    with ThreadPoolExecutor(concurrency) as pool:
        clients = list(pool.map(one, feeds))
    hints: dict[str, int] = {}
    for client in clients:
        for hint in client["retry_after_s"]:  # type: ignore[attr-defined]
            key = f"{hint:g}"
            hints[key] = hints.get(key, 0) + 1
    states: dict[str, int] = {}
    for client in clients:
        states[str(client["state"])] = states.get(str(client["state"]), 0) + 1
    return {
        "clients": len(clients),
        "concurrency": concurrency,
        "to_items": _summary([float(c["items_ms"]) for c in clients]),  # type: ignore[arg-type]
        "to_succeeded": _summary([float(c["finished_ms"]) for c in clients]),  # type: ignore[arg-type]
        "polls": _summary([float(c["polls"]) for c in clients]),  # type: ignore[arg-type]
        "retry_after_seen": hints,
        "states": states,
        "with_items": sum(1 for c in clients if c["items_seen"]),
    }


def retry_after_clients(services: Services, mode: Mode) -> dict[str, object]:
    """Clients that honour ``Retry-After``: fast feeds (zero latency, 20 items) on
    FEED_HOSTS hosts, ``mode.polite_clients`` clients ``mode.polite_concurrency`` at a
    time against an idle stack at defaults."""
    reset_data(services)
    feeds = start_feedserver("--latency", "zero", "--items", "20")
    web = start_web(services)
    worker = start_worker(services)
    with running(feeds, web, worker):
        time.sleep(3)  # idle worker, as in scenario 3
        out = honouring_clients(
            web_url(),
            services.user.headers(),
            [feed_url(n) for n in range(1, mode.polite_clients + 1)],
            mode.polite_concurrency,
        )
    out["command"] = (
        "bench.worker_scenarios.honouring_clients: POST /feeds, sleep Retry-After, "
        "GET status_url, sleep Retry-After ... until succeeded, GET /api/feeds/<id>/items"
    )
    return out


def first_fetch(services: Services, mode: Mode) -> dict[str, object]:
    """The first fetch of many new feeds: ``mode.first_fetch_feeds`` submissions (a job
    each, through the app's submit path) at scenario 6's feed-server latency, then one
    worker.py at defaults; fetches finished per second in a window, as scenario 6."""
    reset_data(services)
    feeds = start_feedserver(
        "--latency", "realistic:300:3:5:1", "--items", "20", "--change-rate", "0.2"
    )
    with running(feeds):
        began = time.monotonic()
        # Queued before the worker starts, past QUEUE_MAX_JOBS's default (3,000), which
        # would answer the rest 503 queue_full: the seeding raises it; the worker that is
        # measured runs at defaults.
        submit_feeds(
            services,
            feed_base(),
            1,
            mode.first_fetch_feeds,
            hosts=FEED_HOSTS,
            queue_max_jobs=max(mode.first_fetch_feeds, int(setting_default("queue_max_jobs"))),
        )
        submit_s = time.monotonic() - began
        worker = start_worker(services, "worker0")
        with running(worker):
            run = _window_rate(services, [worker], warmup=10, seconds=mode.first_fetch_seconds)
    run["feeds"] = mode.first_fetch_feeds
    run["submit_s"] = round(submit_s, 1)
    return run

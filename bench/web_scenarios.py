"""Scenarios 1, 2 and the web half of 8: the web dyno under submission and polling load.

1. Web isolation: every feed takes 5 s; a fixed rate of distinct submissions
   against feedqueue (web + worker) and against the naive in-request baseline.
2. Web throughput: closed-loop wrk sweeps over connection counts for
   ``POST /feeds`` and ``GET /fetches/<id>``; the best rate whose p99 <= 25 ms,
   as the median of three runs at each of the two best counts.
Plus rate sweeps of both stacks for the latency-against-load plots, and:

- New connections: scenario 1's load with a new TCP connection per request, as
  a router opens them (``Connection: close`` on each request).
- Host burst: submissions at a fixed rate all for one host, then spread over
  FEED_HOSTS hosts (bench/host_burst.py), the web's p99 side by side.

Every feed is on one of FEED_HOSTS loopback hosts (bench.stack.feed_url), so the
per-host politeness budget stays at its defaults.

Every request carries the bench user's API token (``Authorization: Bearer``): its
lookup is part of what each request costs, as for any API client.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import memory, stack
from bench.data import fetch_paths
from bench.loadgen import LoadResult, run_wrk
from bench.modes import Mode
from bench.stack import (
    BACKLOG,
    FEED_HOSTS,
    UNPINNED,
    Services,
    feed_base,
    reset_data,
    running,
    start_feedserver,
    start_web,
    start_worker,
    web_url,
)

P99_BUDGET_MS = 25.0
#: Scenario 2: how many of the sweep's best connection counts are run again, and
#: how many runs each then has (its figure is their median).
BEST_COUNTS = 2
BEST_RUNS = 3
_offsets = itertools.count(1)


def _post(
    services: Services,
    path: str,
    *,
    rate: float | None,
    connections: int,
    seconds: int,
    timeout: float = 30.0,
    hosts: int = FEED_HOSTS,
    connection_close: bool = False,
) -> LoadResult:
    # Each run submits feed numbers no other run used: every submission is a new feed.
    env = {
        "BENCH_FEED_BASE": feed_base(),
        "BENCH_PATH": path,
        "BENCH_FEED_OFFSET": str(next(_offsets) * 100_000_000),
        "BENCH_TOKEN": services.user.token,
    }
    if hosts:
        env.update(BENCH_FEED_HOSTS=str(hosts), BENCH_FEED_PORT=str(stack.FEED_PORT))
    if connection_close:
        env["BENCH_CONNECTION_CLOSE"] = "1"
    return run_wrk(
        web_url(path),
        "post_feeds.lua",
        connections=connections,
        duration=seconds,
        rate=rate,
        timeout=timeout,
        env=env,
    )


def _naive_connections(rate: float, seconds: int) -> int:
    # Enough connections that the offered rate is not capped by the client
    # before the 30 s client timeout: the server's queue is what is measured.
    return int(max(16, min(rate * min(seconds, 30), 6000)))


def isolation_and_load_curves(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 1 (both stacks), the web-throughput sweep (2) and web memory (8)."""
    out: dict[str, object] = {}
    reset_data(services)
    feeds = start_feedserver("--latency", "fixed:5")
    with running(feeds):
        web = start_web(services, **BACKLOG)
        worker = start_worker(services, **BACKLOG)
        with running(web, worker):
            out["web_memory_rest_mib"] = memory.snapshot(web)
            with memory.Sampler({"web": web, "worker": worker}) as sampler:
                out["isolation_feedqueue"] = _post(
                    services,
                    "/feeds",
                    rate=mode.isolation_rate,
                    connections=64,
                    seconds=mode.isolation_seconds,
                ).as_dict()
            out["web_memory_load_peak_mib"] = sampler.peaks["web"]
            out["curve_feedqueue"] = [
                _post(
                    services, "/feeds", rate=r, connections=64, seconds=mode.sweep_seconds
                ).as_dict()
                for r in mode.sweep_rates
            ]
            out["throughput_post"] = _sweep_post(services, mode)
            out["throughput_get"] = _sweep_get(services, mode)
        if mode.comparisons:
            out.update(_isolation_comparisons(services, mode))
        reset_data(services)
        naive = start_web(services, "bench.naive_app:create_naive_app()")
        with running(naive):
            out["isolation_naive"] = _post(
                services,
                "/naive/feeds",
                rate=mode.isolation_rate,
                connections=_naive_connections(mode.isolation_rate, mode.isolation_seconds),
                seconds=mode.isolation_seconds,
            ).as_dict()
        for rate in mode.naive_rates:
            # A fresh server per point: a backlog left by one point would slow the next.
            naive = start_web(services, "bench.naive_app:create_naive_app()")
            with running(naive):
                point = _post(
                    services,
                    "/naive/feeds",
                    rate=rate,
                    connections=_naive_connections(rate, mode.sweep_seconds),
                    seconds=mode.sweep_seconds,
                )
            out.setdefault("curve_naive", []).append(point.as_dict())  # type: ignore[union-attr]
    return out


def _isolation_comparisons(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 1 again with other settings: the worker at the web's CPU priority
    (WORKER_NICE=0: what the default 10 buys where web and worker share the cores),
    and the kernel placing every process (PIN_CPUS=false, what auto decides on a shared host)."""
    out: dict[str, object] = {}
    for key, env in (
        ("isolation_feedqueue_worker_nice0", {"WORKER_NICE": 0}),
        ("isolation_feedqueue_unpinned", UNPINNED),
    ):
        reset_data(services)
        web = start_web(services, **BACKLOG, **env)
        worker = start_worker(services, **BACKLOG, **env)
        with running(web, worker):
            out[key] = _post(
                services,
                "/feeds",
                rate=mode.isolation_rate,
                connections=64,
                seconds=mode.isolation_seconds,
            ).as_dict()
    return out


def _within(point: LoadResult) -> bool:
    return point.p99_ms <= P99_BUDGET_MS and point.errors == 0


def _best(points: list[LoadResult], again: Callable[[int], LoadResult]) -> dict[str, object]:
    """The sweep's best rate within the p99 budget, from repeated runs.

    The highest of one run per connection count is biased upward by the machine's
    noise (one count's runs half an hour apart differed by a fifth), so the
    BEST_COUNTS best counts within budget are each run ``again`` until they have
    BEST_RUNS runs, and a count's figure is its median run (by rate), which must
    itself keep within the budget.
    """
    leaders = sorted(filter(_within, points), key=lambda p: p.achieved_rate, reverse=True)
    repeats = []
    for first in leaders[:BEST_COUNTS]:
        runs = [first, *(again(first.connections) for _ in range(BEST_RUNS - 1))]
        repeats.append(sorted(runs, key=lambda p: p.achieved_rate))
    medians = [runs[len(runs) // 2] for runs in repeats]
    best = max(filter(_within, medians), key=lambda p: p.achieved_rate, default=None)
    return {
        "points": [p.as_dict() for p in points],
        "repeats": [
            {"connections": runs[0].connections, "runs": [p.as_dict() for p in runs]}
            for runs in repeats
        ],
        "best_rate_within_budget": best.achieved_rate if best else None,
        "best_connections": best.connections if best else None,
        "p99_budget_ms": P99_BUDGET_MS,
    }


def _sweep_post(services: Services, mode: Mode) -> dict[str, object]:
    def post(connections: int) -> LoadResult:
        return _post(
            services, "/feeds", rate=None, connections=connections, seconds=mode.sweep_seconds
        )

    return _best([post(c) for c in mode.sweep_connections], post)


def _sweep_get(services: Services, mode: Mode) -> dict[str, object]:
    paths = fetch_paths(services, 5000)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")

    def get(connections: int) -> LoadResult:
        return run_wrk(
            web_url("/"),
            "get_paths.lua",
            connections=connections,
            duration=mode.sweep_seconds,
            env={"BENCH_PATHS_FILE": f.name, "BENCH_TOKEN": services.user.token},
        )

    try:
        return _best([get(c) for c in mode.sweep_connections], get)
    finally:
        Path(f.name).unlink()


def new_connections(services: Services, mode: Mode) -> dict[str, object]:
    """Scenario 1's load (every feed takes 5 s, feeds on FEED_HOSTS hosts) with a new
    TCP connection per request: each asks ``Connection: close``, so the server accepts
    a connection for every submission, as behind a router that opens one per request."""
    reset_data(services)
    feeds = start_feedserver("--latency", "fixed:5")
    with running(feeds):
        web = start_web(services, **BACKLOG)
        worker = start_worker(services, **BACKLOG)
        with running(web, worker):
            load = _post(
                services,
                "/feeds",
                rate=mode.isolation_rate,
                connections=64,
                seconds=mode.new_connection_seconds,
                connection_close=True,
            )
    return {"load": load.as_dict(), "hosts": FEED_HOSTS}


def host_burst(services: Services, mode: Mode) -> dict[str, object]:
    """A burst of submissions at the isolation rate, all for one host, then spread over
    FEED_HOSTS hosts (bench.host_burst.burst): the web's latency of both, job runs that
    ended waiting for their host, the worker's CPU."""
    from bench.host_burst import burst

    return {
        label: burst(services, rate=mode.isolation_rate, seconds=mode.burst_seconds, hosts=hosts)
        for label, hosts in (("one host", 0), (f"{FEED_HOSTS:,} hosts", FEED_HOSTS))
    }

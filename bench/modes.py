"""Sizes of each scenario in a quick pass (``make bench``) and a full run (``--full``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    isolation_seconds: int  # scenario 1, per stack
    isolation_rate: int
    sweep_seconds: int  # scenario 2 and the latency-against-load plots, per point
    sweep_connections: tuple[int, ...]
    sweep_rates: tuple[int, ...]
    naive_rates: tuple[int, ...]
    latency_submissions: int  # scenario 3
    cpu_feeds: int  # scenario 4
    unchanged_feeds: int  # scenario 5
    unchanged_seconds: int
    fresh_feeds: int  # scenario 6
    fresh_seconds: int
    scale_out: bool  # scenario 7
    # Scenarios 1 and 4 again with other settings (WORKER_NICE=0, PIN_CPUS=false).
    comparisons: bool
    new_connection_seconds: int  # scenario 1 with a new TCP connection per request
    polite_clients: int  # clients that honour Retry-After
    polite_concurrency: int
    burst_seconds: int  # one host against FEED_HOSTS hosts, per run
    first_fetch_feeds: int  # the first fetch of many new feeds
    first_fetch_seconds: int


QUICK = Mode(
    name="quick",
    isolation_seconds=10,
    isolation_rate=200,
    sweep_seconds=4,
    sweep_connections=(1, 4, 16),
    sweep_rates=(50, 200),
    naive_rates=(2, 200),
    latency_submissions=30,
    cpu_feeds=300,
    unchanged_feeds=20000,
    unchanged_seconds=15,
    fresh_feeds=3000,
    fresh_seconds=30,
    scale_out=False,
    comparisons=False,
    new_connection_seconds=10,
    polite_clients=20,
    polite_concurrency=5,
    burst_seconds=10,
    first_fetch_feeds=2000,
    first_fetch_seconds=20,
)

FULL = Mode(
    name="full",
    isolation_seconds=60,
    isolation_rate=200,
    sweep_seconds=10,
    sweep_connections=(1, 2, 4, 8, 16, 32, 64),
    sweep_rates=(25, 50, 100, 200, 400, 800),
    naive_rates=(1, 2, 5, 25, 100, 200),
    latency_submissions=200,
    # Long enough (about 30 s for one process) that starting up (connections, first
    # imports) and the last batches' tail weigh little against the steady rate.
    cpu_feeds=2000,
    # Enough due feeds that none is left over before the window ends (~700/s here).
    unchanged_feeds=60000,
    unchanged_seconds=40,
    fresh_feeds=20000,
    fresh_seconds=120,
    # Scale-out rows of scenario 6 are 2 x worker.py and 4 processes only (the
    # 1-process row was dropped to keep the full run near 40 minutes).
    scale_out=True,
    comparisons=True,
    new_connection_seconds=60,
    polite_clients=100,
    polite_concurrency=10,
    burst_seconds=25,
    # Enough that no window runs out of new feeds below ~120 fetches/s; the 60 s window
    # is half scenario 6's, to keep the full run near 40 minutes.
    first_fetch_feeds=10000,
    first_fetch_seconds=60,
)

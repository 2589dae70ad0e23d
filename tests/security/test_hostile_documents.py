"""The hostile corpus (tests/hostile.py) through the real fetch path, memory measured.

Each document is served by the loopback feed server and fetched with fetch_feed, as
the worker does: it must end in its FetchError code, or in a success whose items the
caps bound. Two memory figures are measured for each: what the fetch allocated in
this process, the worker's side (tracemalloc's peak), and the peak RSS of a fresh
parser process reading the same bytes (VmHWM, which the process reports with its
answer). Before the bounds, the entity bombs alone took this process past 3 GB.
"""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

import pytest

from app.config import ConfigError, Settings
from app.context import fetch_limits
from app.pipeline import FetchError, FetchLimits, ParserPool, fetch_feed
from app.pipeline.caps import item_size, utf8_size
from tests.feedserver import FeedServer
from tests.hostile import Hostile, corpus

LIMITS = FetchLimits(allow_private_networks=True, deadline=30.0)
MIB = 1024 * 1024
# What one fetch may allocate in the worker: the body (at most max_bytes), its chunks
# while it streams in, and the answer. Measured: 18 MiB at most, for 9.5 MB bodies.
WORKER_ALLOCATION_LIMIT = 3 * LIMITS.max_bytes + 8 * MIB
# A parser process reading any of these documents stays under half its 256 MB
# allowance, where it would be replaced. Measured: 93 MiB at most (200,000 attributes).
PARSER_PEAK_LIMIT = LIMITS.parser_memory_mb * MIB // 2


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    srv = FeedServer().start()
    yield srv
    srv.stop()


def serve(server: FeedServer, case: Hostile) -> str:
    return server.add(
        f"/{case.name}", case.body, content_type=case.content_type, headers=case.headers
    )


@pytest.mark.parametrize("case", corpus(), ids=lambda case: case.name)
def test_hostile_document_ends_cleanly_within_measured_memory(
    server: FeedServer, case: Hostile
) -> None:
    url = serve(server, case)
    tracemalloc.start()
    try:
        try:
            result = fetch_feed(url, LIMITS)
            error = None
        except FetchError as exc:
            result, error = None, exc
        allocated = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{case.name}: worker allocated {allocated / MIB:.1f} MiB")
    assert allocated < WORKER_ALLOCATION_LIMIT
    if case.code is not None:
        assert error is not None, f"{case.name} was read: {result}"
        assert error.code == case.code, error.message
    else:
        assert error is None, error
        assert result is not None and result.feed is not None
        items = result.feed.items
        assert len(items) <= case.max_items
        assert sum(item_size(i) for i in items) <= LIMITS.max_stored_bytes
        for item in items:
            assert utf8_size(item.summary_html) <= LIMITS.max_field_bytes
            assert utf8_size(item.content_html) <= LIMITS.max_field_bytes
    assert server.hits(f"/{case.name}") == 1


@pytest.mark.parametrize(
    "case", [c for c in corpus() if c.code != "too_large"], ids=lambda case: case.name
)
def test_parser_process_reads_hostile_document_within_measured_peak_rss(case: Hostile) -> None:
    body = gzip.decompress(case.body) if case.headers.get("Content-Encoding") else case.body
    pool = ParserPool(1)  # a fresh process: its peak RSS is this document's
    try:
        reading = pool.read(body, {"content-type": case.content_type}, "https://h.example/", LIMITS)
    finally:
        pool.close()
    peak = reading.usage.peak_rss
    print(f"{case.name}: parser peak RSS {peak and peak / MIB:.1f} MiB, {reading.error}")
    assert peak is not None and peak < PARSER_PEAK_LIMIT
    assert (reading.error.code if reading.error else None) == case.code


PARSING_SETTINGS = {
    "FETCH_MAX_ITEMS_READ": ("max_items_read", "3000", 3000),
    "FETCH_MAX_ELEMENTS": ("max_elements", "1000", 1000),
    "FETCH_MAX_DEPTH": ("max_depth", "20", 20),
    "FETCH_MAX_ATTRIBUTE_BYTES": ("max_attribute_bytes", "4096", 4096),
    "FETCH_MAX_FIELD_BYTES": ("max_field_bytes", "65536", 65536),
    "FETCH_MAX_STORED_BYTES": ("max_stored_bytes", "1048576", 1048576),
    "PARSER_PROCESSES": ("parser_processes", "0", 0),
    "PARSER_MEMORY_MB": ("parser_memory_mb", "128", 128),
    "PARSER_CPU_SECONDS": ("parser_cpu_seconds", "2.5", 2.5),
}
ENVIRONMENT = {"DATABASE_URL": "postgres://u@h/d", "REDIS_URL": "redis://h", "SECRET_KEY": "s"}


def test_every_parsing_limit_is_read_from_the_environment_into_the_fetch_limits() -> None:
    environ = {**ENVIRONMENT, **{var: raw for var, (_f, raw, _v) in PARSING_SETTINGS.items()}}
    limits = fetch_limits(Settings.from_env(environ))
    for var, (name, _raw, value) in PARSING_SETTINGS.items():
        assert getattr(limits, name) == value, var
    defaults = fetch_limits(Settings.from_env(ENVIRONMENT))
    assert defaults == replace(FetchLimits(), user_agent=defaults.user_agent)


@pytest.mark.parametrize("var", [v for v in PARSING_SETTINGS if v != "PARSER_PROCESSES"])
def test_parsing_limits_refuse_zero(var: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({**ENVIRONMENT, var: "0"})


def test_reading_fewer_items_than_are_kept_is_refused() -> None:
    with pytest.raises(ConfigError, match="FETCH_MAX_ITEMS_READ"):
        Settings.from_env({**ENVIRONMENT, "FETCH_MAX_ITEMS": "600", "FETCH_MAX_ITEMS_READ": "599"})

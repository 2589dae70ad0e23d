"""What parsing costs: the bench's normal documents, and the hostile corpus.

``python -m bench.parse_cost`` measures, on scenario 4's documents (50 items, ~32 KB):
feedparser with its defaults, the app's parse step in this process (``parse_feed``),
and the same step in a parser process (``read_bounded``), from one thread and from
several: documents per second, and CPU per document counted in this process and its
parser processes together.

``python -m bench.parse_cost --hostile`` reads each document of the hostile corpus
(tests/hostile.py) in a fresh Python, in-process and (where the tree has them) in a
parser process: CPU seconds, peak RSS, outcome. The in-process reader runs under a
3 GiB address-space limit, so an entity bomb ends in MemoryError there rather than
taking the machine.

Run it from any checkout (an older one measures the code before bounded parsing; the
rows it lacks say so). Run benchmarks only under ``flock /tmp/feedqueue-bench.lock``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.feedserver import FeedServer, Options

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent.parent / "tests" / "hostile.py"
MIB = 1024 * 1024
HEADERS = {"content-type": "application/rss+xml"}


def documents(count: int = 100) -> list[bytes]:
    """Scenario 4's documents: RSS 2.0, 50 items of 400 bytes each (bench/feedserver.py)."""
    server = FeedServer(Options(items=50, item_bytes=400))
    return [server.document(900_000_000 + n, 0) for n in range(count)]


def large_feed(items: int = 500, item_bytes: int = 20_000) -> bytes:
    """A large legitimate feed: 500 items of escaped HTML, about 9.5 MB (under the cap)."""
    paragraph = (
        "&lt;p&gt;Lorem ipsum &lt;a href='/x'&gt;dolor&lt;/a&gt; sit amet, "
        "&lt;em&gt;consectetur&lt;/em&gt; adipiscing elit.&lt;/p&gt;\n"
    )
    text = paragraph * (item_bytes // len(paragraph))
    entries = "".join(
        f"<item><guid>{n}</guid><title>Post {n}</title><link>https://large.example/{n}</link>"
        f"<description>{text}</description></item>"
        for n in range(items)
    )
    return f'<rss version="2.0"><channel><title>large</title>{entries}</channel></rss>'.encode()


def _cpu_by_process() -> dict[int, float]:
    """CPU seconds of this process and each of its children (parser processes)."""
    me = psutil.Process()
    seconds = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[proc.pid] = times.user + times.system
    return seconds


def rate(
    parse: Callable[[bytes], object], docs: list[bytes], seconds: float, threads: int = 1
) -> dict[str, float]:
    """Documents per second and CPU ms per document (this process and its children)."""
    for body in docs[:10]:  # warm-up: imports, a parser process started
        parse(body)
    cpu_before = _cpu_by_process()
    parsed = [0] * threads
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        while time.perf_counter() < stop:
            for body in docs:
                parse(body)
            parsed[slot] += len(docs)

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    done = sum(parsed)
    # A parser process started during the run counts from zero.
    cpu = sum(after - cpu_before.get(pid, 0.0) for pid, after in _cpu_by_process().items())
    return {
        "docs_per_s": round(done / elapsed, 1),
        "cpu_ms_per_doc": round(cpu / done * 1000, 3),
    }


def _feedparser_rate(docs: list[bytes], seconds: float) -> dict[str, float]:
    """``rate`` of ``feedparser.parse`` with its defaults, its own deep copies included."""
    import feedparser

    from bench.worker_scenarios import stock_feedparser

    with stock_feedparser():
        return rate(
            lambda b: feedparser.parse(io.BytesIO(b), response_headers=HEADERS), docs, seconds
        )


def core_speed(seconds: float = 2.0) -> float:
    """Scenario 4's documents per second through feedparser with its defaults, on one
    core: the yardstick that lets runs on different machines be compared (two VMs that
    report the same CPU model have differed threefold here)."""
    return _feedparser_rate(documents(50), seconds)["docs_per_s"]


def normal(seconds: float) -> dict[str, Any]:
    """The parse step on scenario 4's documents, every way this checkout can run it."""
    from app.pipeline import parse as app_parse

    docs = documents()
    rows: dict[str, Any] = {"bytes_per_doc": len(docs[0])}
    rows["feedparser.parse, defaults"] = _feedparser_rate(docs, seconds)
    url = "http://127.0.0.1/feed.xml"
    rows["parse_feed, this process"] = rate(
        lambda b: app_parse.parse_feed(b, HEADERS, url), docs, seconds
    )
    large = large_feed()
    started = time.process_time()
    app_parse.parse_feed(large, HEADERS, url)
    rows["large feed, parse_feed, this process"] = {
        "bytes": len(large),
        "cpu_s": round(time.process_time() - started, 2),
    }
    try:
        from app.pipeline import FetchLimits, ParserPool
    except ImportError:
        rows["parser processes"] = "not in this checkout"
        return rows
    pool = ParserPool(1)
    usage = pool.read(large, HEADERS, url, FetchLimits()).usage
    pool.close()
    rows["large feed, fresh parser process"] = {
        "cpu_s": round(usage.cpu_seconds or 0, 2),
        "peak_rss_mib": round((usage.peak_rss or 0) / MIB, 1),
    }
    for size, threads in ((1, 1), (1, 4), (2, 4)):
        pool = ParserPool(size)
        limits = FetchLimits(parser_processes=size)
        try:
            rows[f"parser process x{size}, {threads} thread(s)"] = rate(
                lambda b, pool=pool, limits=limits: pool.read(b, HEADERS, url, limits).result(),
                docs,
                seconds,
                threads,
            )
        finally:
            pool.close()
    return rows


def _load_hostile() -> Any:
    spec = importlib.util.spec_from_file_location("hostile_corpus", HOSTILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def one_hostile(name: str, mode: str) -> dict[str, Any]:
    """Read corpus document `name` in this (fresh) process; `mode`: "here" or "pool"."""
    case = next(c for c in _load_hostile().corpus() if c.name == name)
    body = (
        gzip.decompress(case.body)[: 10 * MIB]
        if case.headers.get("Content-Encoding")
        else case.body
    )
    headers = {"content-type": case.content_type}
    from app.pipeline import FetchError

    if mode == "pool":
        from app.pipeline import FetchLimits, ParserPool

        pool = ParserPool(1)
        reading = pool.read(body, headers, "https://h.example/", FetchLimits())
        pool.close()
        outcome = reading.error.code if reading.error else f"{len(reading.outcome.items)} items"  # type: ignore[union-attr]
        peak = reading.usage.peak_rss or 0
        return {
            "outcome": outcome,
            "cpu_s": reading.usage.cpu_seconds,
            "peak_rss_mib": round(peak / MIB, 1),
        }
    from app.pipeline import parse_feed

    del case
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 * MIB, 3 * 1024 * MIB))
    before = _vm_hwm()
    started = time.process_time()
    try:
        outcome = f"{len(parse_feed(body, headers, 'https://h.example/').items)} items"
    except FetchError as error:
        outcome = error.code
    except MemoryError:
        outcome = "MemoryError (3 GiB)"
    return {
        "outcome": outcome,
        "cpu_s": round(time.process_time() - started, 2),
        "peak_rss_mib": round(_vm_hwm() / MIB, 1),
        "rss_before_mib": round(before / MIB, 1),
    }


def hostile(timeout: float) -> dict[str, Any]:
    """Each corpus document in a fresh process: in-process parse, then a parser process."""
    try:
        import app.pipeline.isolation  # noqa: F401

        modes = ("here", "pool")
    except ImportError:
        modes = ("here",)
    rows: dict[str, Any] = {}
    for case in _load_hostile().corpus():
        if case.code == "too_large":
            continue  # never parsed: the download stops it
        for mode in modes:
            command = [sys.executable, "-m", "bench.parse_cost", "--one", case.name, mode]
            try:
                done = subprocess.run(
                    command, cwd=Path.cwd(), capture_output=True, text=True, timeout=timeout
                )
                row = (
                    json.loads(done.stdout)
                    if done.returncode == 0
                    else {"outcome": done.stderr[-200:]}
                )
            except subprocess.TimeoutExpired:
                row = {"outcome": f"not done in {timeout:g} s"}
            rows[f"{case.name} ({'parser process' if mode == 'pool' else 'in process'})"] = row
            print(case.name, mode, row, file=sys.stderr, flush=True)  # progress
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measured row")
    parser.add_argument("--hostile", action="store_true", help="the hostile corpus instead")
    parser.add_argument("--timeout", type=float, default=120.0, help="per hostile document")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_hostile(*args.one)))
        return 0
    import platform

    from bench import machine

    results: dict[str, Any] = {
        "machine": {
            "cpu": machine._cpu_model(),
            "cores": psutil.cpu_count(logical=True),
            "python": platform.python_version(),
        },
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
        "checkout": str(Path.cwd()),
    }
    results["hostile" if args.hostile else "normal"] = (
        hostile(args.timeout) if args.hostile else normal(args.seconds)
    )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

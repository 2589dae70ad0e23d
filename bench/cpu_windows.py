"""Scenario 1 in back-to-back windows, with the CPU each part of the box used every second.

    python -m bench.cpu_windows [--windows 7] [--seconds 10] [--rate 200] [--connections 64]
        [--web NAME=VALUE] [--worker NAME=VALUE]

Scenario 1's stack and settings (bench.web_scenarios: feeds that answer after 5 s, the
backlog's QUEUE_MAX_JOBS, default settings otherwise; ``--web`` sets one of the web's, e.g.
``GUNICORN_THREADS=2``, ``--worker`` one of the worker dyno's, e.g. ``WORKER_NICE=19``;
both may be repeated) and ``--windows`` wrk runs one after the other against that one
stack, at ``--rate`` submissions a second over ``--connections`` connections (``--rate
0``: each connection sends its next request when the last is answered, as scenario 2's
sweep does), while a thread reads, once a second, the CPU time of
the web (gunicorn's tree), the worker dyno (worker.py's tree, parser processes included)
and Postgres (every ``postgres`` process). Prints each window's latency and the CPU
each web worker used in it (whether the connections were shared between them), then
each second's CPU per part in cores: where a window's tail comes from.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import psutil

from bench.stack import (
    Proc,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_web,
    start_worker,
)
from bench.web_scenarios import BACKLOG, _post

#: pid -> (part, CPU seconds so far)
Reading = dict[int, tuple[str, float]]


def read_cpu(parts: dict[str, list[psutil.Process]]) -> Reading:
    """Each process's part and CPU seconds (user + system) so far; ended ones left out."""
    out: Reading = {}
    for part, procs in parts.items():
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            out[proc.pid] = (part, times.user + times.system)
    return out


def cores(before: Reading, after: Reading, seconds: float) -> dict[str, float]:
    """The cores each part used between two readings ``seconds`` apart. Only processes in
    both count: one that started or ended between them has no interval to measure."""
    used: dict[str, float] = {}
    for pid, (part, cpu) in after.items():
        if pid in before:
            used[part] = used.get(part, 0.0) + max(0.0, cpu - before[pid][1])
    return {part: round(cpu / seconds, 2) for part, cpu in sorted(used.items())}


def postgres_processes() -> list[psutil.Process]:
    """Every process of this machine's Postgres server (backends included)."""
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def _sample(web: Proc, worker: Proc, out: list[dict[str, float]], stop: threading.Event) -> None:
    def reading() -> Reading:
        parts = {"web": web.tree(), "worker": worker.tree(), "postgres": postgres_processes()}
        return read_cpu(parts)

    before, then = reading(), time.monotonic()
    while not stop.wait(1.0):
        after, now = reading(), time.monotonic()
        out.append(cores(before, after, now - then))
        before, then = after, now


def worker_cpu(web: Proc) -> dict[int, float]:
    """CPU seconds so far of each gunicorn worker (the master's children), by pid."""
    return {pid: cpu for pid, (_, cpu) in read_cpu({"w": web.tree()[1:]}).items()}


def settings_of(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs as a process's extra environment; ValueError for any other form."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--web and --worker take NAME=VALUE, not {pair!r}")
        settings[name] = value
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--web", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--worker", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    try:
        web_env, worker_env = settings_of(args.web), settings_of(args.worker)
    except ValueError as err:
        parser.error(str(err))
    services = start_services()
    reset_data(services)
    seconds: list[dict[str, float]] = []
    stop = threading.Event()
    feeds = start_feedserver("--latency", "fixed:5")
    with running(feeds):
        web = start_web(services, **BACKLOG, **web_env)
        worker = start_worker(services, **{**BACKLOG, **worker_env})
        with running(web, worker):
            sampler = threading.Thread(target=_sample, args=(web, worker, seconds, stop))
            sampler.start()
            print("window  rate/s  p50 ms  p90 ms  p99 ms  errors  CPU s of each web worker")
            for n in range(args.windows):
                before = worker_cpu(web)
                r = _post(
                    services,
                    "/feeds",
                    rate=args.rate or None,
                    connections=args.connections,
                    seconds=args.seconds,
                )
                after = worker_cpu(web)
                each = [round(cpu - before.get(pid, 0.0), 2) for pid, cpu in sorted(after.items())]
                print(f"{n:6}  {r.achieved_rate:6}  {r.p50_ms:6}  {r.p90_ms:6}  {r.p99_ms:6}  "
                      f"{r.errors}  {each}", flush=True)
            stop.set()
            sampler.join()
    services.close()
    print(f"\nCPU per second, in cores (load average at the end: {os.getloadavg()[0]:.1f}):")
    for n, used in enumerate(seconds, 1):
        print(f"{n:4} s  " + "  ".join(f"{part} {value:.2f}" for part, value in used.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

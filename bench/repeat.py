"""Scenario 1's feedqueue row, run again and again: how much its p99 spreads.

``python -m bench.repeat --rounds 3 --seconds 60`` starts a fresh web and worker
dyno for each round (as ``bench.run`` does, with its environment) and prints one
line per round. A single run's p99 says little on a shared box; this says how
often the target holds.
"""

from __future__ import annotations

import argparse
import sys

from bench.machine import describe
from bench.stack import (
    BACKLOG,
    reset_data,
    running,
    start_feedserver,
    start_services,
    start_web,
    start_worker,
)
from bench.web_scenarios import _post


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=200)
    args = parser.parse_args(argv)
    services = start_services()
    machine = describe(services)
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, kernel {machine['kernel']}")
    feeds = start_feedserver("--latency", "fixed:5")
    try:
        with running(feeds):
            for n in range(1, args.rounds + 1):
                reset_data(services)
                web = start_web(services, **BACKLOG)
                worker = start_worker(services, **BACKLOG)
                with running(web, worker):
                    r = _post(
                        services, "/feeds", rate=args.rate, connections=64, seconds=args.seconds
                    )
                print(
                    f"round {n}: {r.achieved_rate}/s, p50 {r.p50_ms} ms, p99 {r.p99_ms} ms, "
                    f"max {r.max_ms} ms, errors {r.errors}",
                    flush=True,
                )
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

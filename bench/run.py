"""Run the benchmarks: ``python -m bench.run --quick`` (make bench) or ``--full``.

Starts every process itself (feed server, gunicorn, worker.py) against the
local Postgres and Redis, prints tables, writes JSON to bench/results/ and,
for a full run, docs/benchmarks.md with its plots in docs/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import machine, report, web_scenarios, worker_scenarios
from bench.modes import FULL, QUICK, Mode
from bench.stack import ROOT, start_services

RESULTS = ROOT / "bench" / "results"
SCENARIOS = (
    "web",
    "new_connections",
    "host_burst",
    "latency",
    "retry_after",
    "cpu",
    "unchanged",
    "freshness",
    "first_fetch",
    "memory",
)


def run(mode: Mode, only: tuple[str, ...], path: Path | None = None) -> dict[str, Any]:
    """Run the selected scenarios; returns everything measured. With ``path``, the
    results so far are written there after each scenario, so a scenario that fails
    leaves the others' figures (``--render`` renders them)."""
    services = start_services()
    results: dict[str, Any] = {
        "mode": mode.name,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine.describe(services),
        "command": "python -m bench.run " + " ".join(sys.argv[1:]),
    }
    steps = {
        "web": lambda: web_scenarios.isolation_and_load_curves(services, mode),
        "new_connections": lambda: web_scenarios.new_connections(services, mode),
        "host_burst": lambda: web_scenarios.host_burst(services, mode),
        "latency": lambda: worker_scenarios.time_to_items(services, mode),
        "retry_after": lambda: worker_scenarios.retry_after_clients(services, mode),
        "cpu": lambda: worker_scenarios.cpu_efficiency(services, mode),
        "unchanged": lambda: worker_scenarios.unchanged_feeds(services, mode),
        "freshness": lambda: worker_scenarios.freshness(services, mode),
        "first_fetch": lambda: worker_scenarios.first_fetch(services, mode),
        "memory": lambda: worker_scenarios.worker_memory_at_rest(services),
    }
    try:
        for name in only:
            began = time.monotonic()
            print(f"== {name} ...", flush=True)
            results[name] = steps[name]()
            results.setdefault("seconds", {})[name] = round(time.monotonic() - began, 1)
            # The box may be shared: every figure goes with the load it was taken under.
            results.setdefault("load_avg", {})[name] = [round(x, 2) for x in os.getloadavg()]
            if path is not None:
                path.write_text(json.dumps(results, indent=2, default=str))
    finally:
        services.close()
    return results


def writes_docs(args: argparse.Namespace) -> bool:
    """Whether a command writes docs/benchmarks.md: asked to, or a full run of every
    scenario (a new headline). A full run of some scenarios must not replace the
    headline run; ``--render`` merges such re-runs into it instead."""
    every_scenario = set(args.only.split(",")) >= set(SCENARIOS)
    return bool(args.docs or args.render or (args.full and every_scenario))


def command_line() -> argparse.ArgumentParser:
    """The options of ``python -m bench.run``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes, ~7 min")
    group.add_argument("--full", action="store_true", help="every scenario at full size")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="write docs/benchmarks.md too (a --full run of every scenario always does)",
    )
    parser.add_argument(
        "--render", type=Path, nargs="+", help="only render docs from results JSON (merged)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = command_line()
    args = parser.parse_args(argv)
    if args.render:
        # The first file is the run; later ones replace the scenarios they re-ran.
        results = json.loads(args.render[0].read_text())
        for path in args.render[1:]:
            rerun = json.loads(path.read_text())
            scenarios = [k for k in SCENARIOS if k in rerun]
            results.update({k: rerun[k] for k in scenarios})
            results.setdefault("reruns", []).append(
                {
                    "command": rerun.get("command"),
                    "started": rerun.get("started"),
                    "scenarios": scenarios,
                    "file": path.name,
                }
            )
    else:
        mode = FULL if args.full else QUICK
        only = tuple(s for s in args.only.split(",") if s)
        unknown = set(only) - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{mode.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        results = run(mode, only, path)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"results: {path.relative_to(ROOT)}")
    from bench.docs import render

    text = render(results)
    print(text)
    if writes_docs(args):
        (ROOT / "docs" / "benchmarks.md").write_text(text)
        report.plot_curves(results, ROOT / "docs" / "benchmarks")
    return 0


if __name__ == "__main__":
    sys.exit(main())

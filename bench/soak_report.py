"""What bench.soak prints: one line per sample, errors read from the logs, and the table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.plans import MINI_ESSENTIAL0, bad_lines

MB = 10**6
#: Lines counted as errors besides bench.plans.BAD_LOG_LINES.
ALSO_BAD = ("Traceback", "MemoryError", "Out of memory", "Killed")


@dataclass
class Sample:
    """The stack at one moment of the run."""

    seconds: float
    redis_clients: int
    postgres_connections: int
    redis_memory: int
    rss_mib: dict[str, float]
    load: float
    db_bytes: int
    items: int
    feeds: int
    fetch_rows: int
    fetches_done: int
    fetches_pending: int
    fetches_failed: int

    def line(self) -> str:
        """One progress line."""
        rss = " ".join(f"{name}={mib}" for name, mib in self.rss_mib.items())
        return (
            f"{self.seconds:7.0f}s redis={self.redis_clients} pg={self.postgres_connections}"
            f" redis_mem={self.redis_memory / MB:.1f}MB rss[{rss}] db={self.db_bytes / MB:.1f}MB"
            f" items={self.items} fetch_rows={self.fetch_rows} done={self.fetches_done}"
            f" pending={self.fetches_pending} failed={self.fetches_failed} load={self.load}"
        )


def errors_in_logs(paths: list[Path]) -> dict[str, list[str]]:
    """Per log file, its lines that say a server refused a connection or memory, a pool
    ran dry, or a traceback (at most 20 lines each; an empty list when clean)."""
    found: dict[str, list[str]] = {}
    for path in paths:
        text = path.read_text(errors="replace") if path.exists() else ""
        bad = bad_lines(text) + [
            line for line in text.splitlines() if any(word in line for word in ALSO_BAD)
        ]
        found[path.name] = bad[:20] + ([f"... {len(bad) - 20} more"] if len(bad) > 20 else [])
    return found


def _slope_mb_per_hour(samples: list[dict[str, Any]]) -> float:
    """Least-squares slope of the database size over ``samples``, MB per hour."""
    if len(samples) < 2:
        return 0.0
    hours = [s["seconds"] / 3600 for s in samples]
    sizes = [s["db_bytes"] / MB for s in samples]
    return round(statistics.linear_regression(hours, sizes).slope, 2)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Peaks, the database size at start, middle and end, its slope over the last half."""
    samples = result["samples"]
    last_half = [s for s in samples if s["seconds"] >= result["seconds"] / 2]
    middle = last_half[0] if last_half else samples[-1]
    first, last = samples[0], samples[-1]
    errors = sum(len(lines) for lines in result["logs"]["errors"].values())
    accepted = sum(n for status, n in result["submissions"].items() if status.startswith("2"))
    return {
        "redis_clients": result["peaks"]["redis"],
        "postgres_connections": result["peaks"]["postgres"],
        "redis_memory_mb": round(result["peaks"]["redis_memory"] / MB, 1),
        "rss_mib": {name: peak["rss_mib"] for name, peak in result["rss_peaks"].items()},
        "pss_mib": {name: peak["pss_mib"] for name, peak in result["rss_peaks"].items()},
        "db_mb": [round(s["db_bytes"] / MB, 1) for s in (first, middle, last)],
        "db_minutes": [round(s["seconds"] / 60) for s in (first, middle, last)],
        "slope_last_half_mb_per_hour": _slope_mb_per_hour(last_half),
        "items": [s["items"] for s in (first, middle, last)],
        "fetch_rows": [s["fetch_rows"] for s in (first, middle, last)],
        "fetches_done": last["fetches_done"],
        "fetches_failed": last["fetches_failed"],
        "fetches_pending_end": last["fetches_pending"],
        "submissions": sum(result["submissions"].values()),
        "submissions_accepted": accepted,
        "log_errors": errors,
        "load": [min(s["load"] for s in samples), max(s["load"] for s in samples)],
        "sampler_errors": len(result["peaks"]["errors"]),
    }


def table(result: dict[str, Any], got: dict[str, Any]) -> str:
    """The Markdown table for docs/operations.md and docs/benchmarks.md."""
    plan = MINI_ESSENTIAL0
    redis_target, postgres_target = plan.target
    minutes = got["db_minutes"]
    db = got["db_mb"]
    rows = [
        "| measure | value |",
        "|---|---|",
        f"| run | {result['seconds'] / 60:.0f} min, {result['options']['feeds']} feeds every "
        f"{result['options']['interval']} s, load average {got['load'][0]}–{got['load'][1]} |",
        f"| peak Redis clients | **{got['redis_clients']}** of {plan.redis_clients} "
        f"(target ≤ {redis_target}) |",
        f"| peak Postgres connections (the role's) | **{got['postgres_connections']}** of "
        f"{plan.postgres_connections} (target ≤ {postgres_target}) |",
        f"| peak Redis memory (used_memory) | {got['redis_memory_mb']} MB of 25 MB |",
    ]
    for name, rss in got["rss_mib"].items():
        rows.append(
            f"| peak RSS, {name} dyno (process tree, sum; PSS) | {rss} MiB "
            f"({got['pss_mib'][name]} MiB) of 512 MB |"
        )
    rows += [
        f"| database size at {minutes[0]} / {minutes[1]} / {minutes[2]} min | "
        f"{db[0]} / {db[1]} / {db[2]} MB |",
        f"| database growth over the last half | {got['slope_last_half_mb_per_hour']} MB/hour |",
        f"| items / fetch rows at the same times | {' / '.join(map(str, got['items']))}; "
        f"{' / '.join(map(str, got['fetch_rows']))} |",
        f"| fetches done (failed: feeds that never answer) | {got['fetches_done']} "
        f"({got['fetches_failed']}); {got['fetches_pending_end']} pending at the end |",
        f"| POST /feeds (2xx) | {got['submissions']} ({got['submissions_accepted']}) |",
        f"| errors in the logs (refused connections, OOM, tracebacks) | **{got['log_errors']}** |",
    ]
    return "\n".join(rows)

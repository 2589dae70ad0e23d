"""Turn a results dict into markdown tables and PNG plots (docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from bench.machine import CORE_SPEED  # noqa: E402


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_row(label: str, r: dict[str, Any]) -> list[object]:
    return [
        label,
        r["offered_rate"] or "max",
        r["connections"],
        r["achieved_rate"],
        r["requests"],
        r["p50_ms"],
        r["p99_ms"],
        r["max_ms"],
        r["errors"],
        f"{r['error_rate']:.2%}",
    ]


LOAD_HEADERS = [
    "run",
    "offered/s",
    "conns",
    "achieved/s",
    "requests",
    "p50 ms",
    "p99 ms",
    "max ms",
    "errors",
    "error rate",
]


def machine_table(m: dict[str, Any]) -> str:
    rows: list[list[object]] = [
        [k, m[k]]
        for k in ("cpu", "cores", "ram_gib", "kernel", "python", "postgres", "redis", "wrk")
    ]
    rows += [  # earlier runs lack them
        [k, m[k]]
        for k in ("placement (PIN_CPUS=auto)", CORE_SPEED)
        if k in m
    ]
    rows += [[name, version] for name, version in m["packages"].items()]
    return table(["", "value"], rows)


def plot_curves(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Latency against offered load, feedqueue vs naive; and the web throughput sweeps."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    web = results.get("web", {})
    if web.get("curve_feedqueue") and web.get("curve_naive"):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for key, label, marker in (
            ("curve_feedqueue", "feedqueue", "o"),
            ("curve_naive", "naive", "s"),
        ):
            pts = web[key]
            rates = [p["offered_rate"] for p in pts]
            ax.plot(rates, [p["p50_ms"] for p in pts], marker=marker, label=f"{label} p50")
            ax.plot(rates, [p["p99_ms"] for p in pts], marker=marker, ls="--", label=f"{label} p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered submissions per second (every feed takes 5 s)")
        ax.set_ylabel("submit latency, ms")
        ax.set_title("Submit latency against load")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = out_dir / "latency-vs-load.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    if web.get("throughput_post"):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for key, label in (
            ("throughput_post", "POST /feeds"),
            ("throughput_get", "GET /fetches/<id>"),
        ):
            pts = web[key]["points"]
            ax.plot(
                [p["achieved_rate"] for p in pts],
                [p["p99_ms"] for p in pts],
                marker="o",
                label=f"{label} p99",
            )
            ax.plot(
                [p["achieved_rate"] for p in pts],
                [p["p50_ms"] for p in pts],
                marker=".",
                ls="--",
                label=f"{label} p50",
            )
        ax.axhline(25, color="grey", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("achieved requests per second (closed loop, 1..64 connections)")
        ax.set_ylabel("latency, ms")
        ax.set_title("feedqueue web throughput")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = out_dir / "web-throughput.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths

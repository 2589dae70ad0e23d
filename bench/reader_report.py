"""Markdown of bench.reader_scale results: the rows and plans of docs/benchmarks.md.

    python -m bench.reader_report bench/results/reader-scale-<stamp>-after.json \
        [--before bench/results/reader-scale-<stamp>-before.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _row(
    label: str, after: dict[str, Any], before: dict[str, Any] | None, with_before: bool
) -> str:
    cells = [label]
    if with_before and before is None:
        cells.append("–")
    elif before is not None:
        cells.append(
            f"{before['p50_ms']} / {before['p95_ms']} / {before['p99_ms']} (n={before['n']})"
        )
    cells.append(f"{after['p50_ms']} / {after['p95_ms']} / {after['p99_ms']}")
    cells += [str(after["max_ms"]), str(after["n"]), "yes" if after["p99_ms"] <= 50 else "**no**"]
    return "| " + " | ".join(cells) + " |"


def _table(
    title: str, after: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]] | None
) -> list[str]:
    head = ["query"]
    if before is not None:
        head.append("before: p50 / p95 / p99 ms")
    head += ["p50 / p95 / p99 ms", "max ms", "samples", "p99 ≤ 50 ms"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, figures in after.items():
        lines.append(_row(label, figures, (before or {}).get(label), before is not None))
    return lines + [""]


def render(after: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The section's tables and plans for one run (and the run before a change)."""
    machine = after["machine"]
    load = ", ".join(f"{x:.2f}" for x in after["load_average_before"])
    load_after = ", ".join(f"{x:.2f}" for x in after["load_average_after"])
    sizes = after["sizes"]
    out = [
        f"Run started {after['started']} UTC; load average (1, 5, 15 min) {load} before, "
        f"{load_after} after. {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['ram_gib']} GiB, {machine['postgres']}, Python {machine['python']}. "
        f"Data: {sizes['users']} people, {sizes['feeds']:,} feeds, {sizes['items']:,} items, "
        f"{sizes['subscriptions']:,} subscriptions, {sizes['folders']} folders, "
        f"{sizes['item_states']:,} item_states rows; database {sizes['database_size']}.",
        "",
    ]
    out += _table(
        "Storage functions, in one process", after["storage"], before and before.get("storage")
    )
    if "http" in after:
        out += _table("Through gunicorn (HTTP, one request at a time)", after["http"], None)
    mark = after["mark_all_read"]
    out += [
        "**Mark a feed of 10,000 unread items read** (person 1, feed 1; each run rolled back): "
        f"unread {mark['unread_before']:,} → {mark['unread_after']}; "
        f"{mark['statements']} statement from `app.storage.reading.mark_all_read` "
        f"({mark['statements_through_service']} through `app.services.reading.mark_all_read`, "
        "which first checks that the feed is the person's); "
        f"p50 {mark['p50_ms']} ms, max {mark['max_ms']} ms over {mark['n']} runs.",
        "",
    ]
    if before is not None:
        was = before["mark_all_read"]
        out += [
            f"Before: {was['statements']} statements (the newest item id was read first), "
            f"p50 {was['p50_ms']} ms.",
            "",
        ]
    for label, plan in after["plans"].items():
        out += [
            f"<details><summary>{label}</summary>",
            "",
            "```",
            plan,
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("after", type=Path)
    parser.add_argument("--before", type=Path)
    args = parser.parse_args(argv)
    after = json.loads(args.after.read_text())
    before = json.loads(args.before.read_text()) if args.before else None
    print(render(after, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reading bench.scale_out's results: a refresh cycle's cost from pg_stat_statements,
and the runs as Markdown table rows (also from a saved ``--json`` result)."""

from __future__ import annotations

from typing import Any

#: How pg_stat_statements names the statements of one refresh's cycle, and which of
#: them counts the cycles (its rows): the claim's, then the fetch's.
#: (SQLAlchemy renders an IN list of n ids as n parameters: one entry per list length.)
#: Before migration 0010 the claim was a SELECT … FOR UPDATE and an UPDATE; from it on, one
#: statement (its trigger's INSERT into feed_schedule is nested in it: pg_stat_statements
#: counts that statement's time and WAL in the claim's too, so it is not added again).
CLAIM_STATEMENTS = ("UPDATE feeds SET next_fetch_at", "INSERT INTO fetches",
                    'SELECT $2 FROM ONLY "public"."feeds"')  # fmt: skip
CLAIM_COUNTER = ("SELECT feeds.id, feeds.next_fetch_at FROM feeds",
                 "WITH due AS ( DELETE FROM feed_schedule")  # fmt: skip
FETCH_STATEMENTS = ("UPDATE fetches SET state = $1, started_at",)
FETCH_COUNTER = "WITH finished AS"


def cycle_costs(statements: list[dict[str, Any]]) -> dict[str, float | None]:
    """Postgres time and WAL of one refresh's whole cycle (claim, fetch row, outcome),
    from pg_stat_statements: per claimed feed for the claim's statements plus per
    finished refresh for the fetch's, so a backlog (more claims than refreshes in a
    window) does not bend the figure."""

    def part(names: tuple[str, ...], counter: str | tuple[str, ...]) -> tuple[float, float] | None:
        counters = (counter,) if isinstance(counter, str) else counter
        rows = sum(int(s["rows"]) for s in statements if s["query"].startswith(counters))
        if not rows:
            return None
        chosen = [s for s in statements if s["query"].startswith((*counters, *names))]
        wal = sum(float(s["wal_bytes"]) for s in chosen)
        ms = sum(float(s["total_ms"]) for s in chosen)
        return wal / rows, ms / rows

    claim = part(CLAIM_STATEMENTS, CLAIM_COUNTER)
    fetch = part(FETCH_STATEMENTS, FETCH_COUNTER)
    if claim is None or fetch is None:
        return {"wal_bytes": None, "exec_ms": None}
    return {
        "wal_bytes": round(claim[0] + fetch[0]),
        "exec_ms": round(claim[1] + fetch[1], 3),
        "claim_wal_bytes": round(claim[0]),
        "outcome_wal_bytes": round(fetch[0]),
    }


COLUMNS = (
    ("workers", "dynos"),
    ("claims_per_s", "claims/s"),
    ("refreshes_per_s", "refreshes/s"),
    ("claim_lag_p99_s", "claim lag p99 s"),
    ("start_lag_p99_s", "start lag p99 s"),
    ("postgres_cpu_ms_per_refresh", "PG CPU ms/refresh"),
    ("postgres_cpu_cores", "PG cores"),
    ("lock_wait_ms_per_refresh", "lock wait ms/refresh"),
    ("wal_bytes_per_refresh", "WAL B/refresh (window)"),
    ("worker_cpu_cores", "worker cores"),
    ("other_cpu_cores", "others' cores"),
)

#: The relations whose sizes the table shows (the JSON has them all).
SIZES = ("feeds", "ix_feeds_due", "uq_feeds_url", "feed_schedule", "ix_feed_schedule_due_at",
         "subscriptions", "fetches")  # fmt: skip


def _hot_outcomes(run_: dict[str, Any]) -> str:
    """HOT updates of feeds per finished refresh. Before migration 0010 a claim's update
    was never HOT (it moved the indexed next_fetch_at), so this was the share of outcomes
    written in place; from it on, claims are HOT too, and the figure counts both (up to
    claims/refreshes × 100 %)."""
    feeds = run_["tables"].get("feeds", {})
    refreshes = run_.get("run_refreshes") or 0
    return f"{100 * feeds.get('hot_updates', 0) / refreshes:.0f}" if refreshes else "-"


def markdown(result: dict[str, Any]) -> str:
    """The runs as table rows: rates, lags, Postgres costs, HOT share, sizes."""
    head = [title for _, title in COLUMNS] + [
        "WAL B/cycle",
        "PG exec ms/cycle",
        "outcomes HOT %",
        "feeds dead",
        "autovac",
        "sizes MiB",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run_ in result["runs"]:
        feeds = run_["tables"].get("feeds", {})
        cycle = run_.get("cycle") or cycle_costs(run_.get("statements", []))
        cells = [str(run_[key]) for key, _ in COLUMNS] + [
            str(cycle["wal_bytes"]),
            str(cycle["exec_ms"]),
            _hot_outcomes(run_),
            str(feeds.get("dead_tuples_at_end")),
            str(feeds.get("autovacuums")),
            ", ".join(f"{k} {v}" for k, v in run_["sizes_mib"].items() if k in SIZES),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per(total: float, refreshes: int, scale: float = 1.0) -> float | None:
    """``total × scale ÷ refreshes``, or None without refreshes."""
    return round(total * scale / refreshes, 3) if refreshes else None


def row_of(
    workers: int,
    window: float,
    fetches: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    postgres: dict[str, Any],
    worker_cpu: float,
) -> dict[str, Any]:
    """One run's row: rates, lags and the window's Postgres costs per refresh."""
    refreshes = int(fetches["refreshes"])
    wal = after["wal_bytes"] - before["wal_bytes"]
    return {
        "workers": workers,
        "window_s": round(window, 1),
        "claims_per_s": round(fetches["claims"] / window, 1),
        "refreshes_per_s": round(refreshes / window, 1),
        **fetches,
        "postgres_cpu_s": round(postgres["cpu_s"], 2),
        "postgres_cpu_ms_per_refresh": per(postgres["cpu_s"], refreshes, 1000),
        "postgres_cpu_cores": round(postgres["cpu_s"] / window, 2),
        "worker_cpu_ms_per_refresh": per(worker_cpu, refreshes, 1000),
        "lock_wait_s": round(postgres["lock_wait_s"], 2),
        "lock_wait_ms_per_refresh": per(postgres["lock_wait_s"], refreshes, 1000),
        "lwlock_wait_ms_per_refresh": per(postgres["lwlock_wait_s"], refreshes, 1000),
        "io_wait_ms_per_refresh": per(postgres["io_wait_s"], refreshes, 1000),
        "wait_s_by_event": postgres["wait_s_by_event"],
        "wal_bytes_per_refresh": per(wal, refreshes),
        "wal_mib_per_s": round(wal / window / 2**20, 2),
        "other_databases_commits": after["other_commits"] - before["other_commits"],
    }


def tables_of(counters: dict[str, Any], refreshes: int) -> dict[str, Any]:
    """Per table: updates, HOT share, index-touching updates per refresh, dead tuples."""
    out = {}
    for name, c in counters["tables"].items():
        out[name] = {
            "updates": c["upd"],
            "hot_updates": c["hot_upd"],
            "hot_ratio": round(c["hot_upd"] / c["upd"], 3) if c["upd"] else None,
            "inserts": c["ins"],
            "non_hot_updates_per_refresh": per(c["upd"] - c["hot_upd"], refreshes),
            "dead_tuples_at_end": c["dead"],
            "autovacuums": c["autovacuums"],
        }
    return out

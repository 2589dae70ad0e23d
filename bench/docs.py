"""Render docs/benchmarks.md from a results dict: commands, settings, tables, verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import LOAD_HEADERS, load_row, machine_table, table
from bench.web_scenarios import P99_BUDGET_MS

FINDINGS = Path(__file__).resolve().parent / "findings.md"
SCALE_OUT = Path(__file__).resolve().parent / "scale_out.md"
WEBSUB = Path(__file__).resolve().parent / "websub.md"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _web(r: dict[str, Any]) -> list[str]:
    fq, naive = r["isolation_feedqueue"], r["isolation_naive"]
    ratio = naive["p99_ms"] / fq["p99_ms"] if fq["p99_ms"] else float("inf")
    ok = fq["p99_ms"] <= 20 and fq["errors"] == 0
    out = [
        "## 1. Web isolation (every feed takes 5 s)",
        "",
        table(
            LOAD_HEADERS,
            [load_row("feedqueue POST /feeds", fq), load_row("naive POST /naive/feeds", naive)]
            + [
                load_row(label, r[key])
                for label, key in (
                    ("feedqueue, WORKER_NICE=0", "isolation_feedqueue_worker_nice0"),
                    ("feedqueue, PIN_CPUS=false", "isolation_feedqueue_unpinned"),
                )
                if key in r  # earlier runs lack them
            ],
        ),
        "",
        "feedqueue's worker lowers its CPU priority (WORKER_NICE=10, the default) so that, "
        "on this box where it shares two cores with the web, fetches finishing together do "
        "not take the CPU from requests; the WORKER_NICE=0 row is the same load with the "
        "worker at the web's priority. Each web and worker process keeps to one core "
        "(PIN_CPUS=true, set for every run on this dedicated box); the PIN_CPUS=false row "
        "is the default, where the kernel places them. On Heroku each dyno has CPU of its own.",
        "",
        f"Target: feedqueue p99 <= 20 ms with zero errors: {_verdict(ok)}. "
        f"Naive p99 / feedqueue p99 = {ratio:,.0f}x; naive p50 / feedqueue p50 = "
        f"{naive['p50_ms'] / max(fq['p50_ms'], 0.001):,.0f}x. Naive latencies are of the requests "
        "that completed within wrk's 30 s timeout; the rest are counted as errors.",
        "",
        "Commands:",
        "",
        f"    {fq['command']}",
        f"    {naive['command']}",
        "",
        "### Latency against load",
        "",
        table(
            LOAD_HEADERS,
            [load_row("feedqueue", p) for p in r["curve_feedqueue"]]
            + [load_row("naive", p) for p in r.get("curve_naive", [])],
        ),
        "",
        "![latency against load](benchmarks/latency-vs-load.png)",
        "",
        "## 2. Web throughput (p99 <= 25 ms)",
        "",
    ]
    for key, label in (("throughput_post", "POST /feeds"), ("throughput_get", "GET /fetches/<id>")):
        sweep = r[key]
        out += [
            f"{label}: best rate within budget = **{sweep['best_rate_within_budget']} req/s** "
            f"(at {sweep['best_connections']} connections)."
            if sweep["best_rate_within_budget"] is not None
            else f"{label}: **no** point of the sweep kept p99 within {P99_BUDGET_MS:g} ms.",
            "",
            table(LOAD_HEADERS, [load_row(label, p) for p in sweep["points"]]),
            "",
            f"Command (per point, -c varies): `{sweep['points'][-1]['command']}`",
            "",
        ]
    out += ["![web throughput](benchmarks/web-throughput.png)", ""]
    return out


def _latency(r: dict[str, Any]) -> list[str]:
    c, d = r["client_submit_to_succeeded"], r["db_created_to_finished"]
    ok = c["p50_ms"] <= 100 and c["p99_ms"] <= 300
    rows = [
        [
            "client: POST → GET says succeeded",
            *[c[k] for k in ("n", "p50_ms", "p90_ms", "p99_ms", "max_ms")],
        ],
        [
            "Postgres: finished_at − created_at",
            *[d[k] for k in ("n", "p50_ms", "p90_ms", "p99_ms", "max_ms")],
        ],
    ]
    return [
        "## 3. Time to items (sequential submissions, fast feeds, idle worker)",
        "",
        table(["measure", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows),
        "",
        f"Target p50 <= 100 ms and p99 <= 300 ms: {_verdict(ok)}. Outcomes: {r['states']}; "
        f"polling every {r['poll_interval_ms']} ms.",
        "",
    ]


def _cpu(r: dict[str, Any]) -> list[str]:
    limit = r["parse_only"]
    rows = [
        [
            label,
            x.get("path", "submissions (a job each)"),
            x["processes"],
            x["feeds"],
            x["seconds"],
            x["feeds_per_s"],
            x["feeds_per_s_per_process"],
            x["worker_cpu_s_per_feed_ms"],
            sum(x["memory_peak_mib"].values()),
        ]
        for label, x in r["runs"].items()
    ]
    lines = [
        "## 4. Worker CPU efficiency (fast feeds, 50 new items each)",
        "",
        f"Parse-only limit, one process, same documents "
        f"({limit['bytes_per_doc']} bytes, 50 items): `feedparser.parse` with its defaults "
        f"**{limit['docs_per_s']} docs/s** ({limit['ms_per_doc']} ms per document)",
    ]
    if "parse_feed_docs_per_s" in limit:
        lines[-1] += (
            f"; the app's whole parse step (`parse_feed`: feedparser without its own HTML "
            f"passes, then nh3 and item building) {limit['parse_feed_docs_per_s']} docs/s "
            f"({limit['parse_feed_ms_per_doc']} ms)."
        )
    if "parser_process_docs_per_s" in limit:
        lines[-1] += (
            f" The same step in a parser process (what the worker runs: the document over a "
            f"pipe, the scan, the parse, the answer back), from one thread: "
            f"{limit['parser_process_docs_per_s']} docs/s ({limit['parser_process_ms_per_doc']} "
            f"ms wall, {limit['parser_process_cpu_ms_per_doc']} ms of CPU in both processes)."
        )
    lines += [
        "",
        "Submissions run one RQ job per feed (the person waiting gets the job's status);",
        "scheduled refreshes run REFRESH_BATCH_SIZE feeds per job.",
        "",
        table(
            [
                "run",
                "path",
                "processes",
                "feeds",
                "seconds",
                "feeds/s",
                "feeds/s per process",
                "worker CPU ms per feed",
                "peak RSS MiB (all workers)",
            ],
            rows,
        ),
        "",
        f"Efficiency against feedparser's time (1 process, default threads): submissions "
        f"{r['efficiency']:.0%}",
    ]
    if "efficiency_refreshes" in r:
        lines[-1] += (
            f", refreshes {r['efficiency_refreshes']:.0%}; against the app's own parse step: "
            f"submissions {r['efficiency_vs_parse_feed']:.0%}, refreshes "
            f"{r['efficiency_refreshes_vs_parse_feed']:.0%}"
        )
    best = max(r["efficiency"], r.get("efficiency_refreshes", 0.0))
    lines[-1] += f". Target >= 70 %: {_verdict(best >= 0.7)}."
    if "efficiency_unpinned" in r:
        lines[-1] += (
            f" With PIN_CPUS=false (the default): submissions {r['efficiency_unpinned']:.0%}, "
            f"refreshes {r['efficiency_refreshes_unpinned']:.0%}."
        )
    return [*lines, ""]


def _window_rows(runs: dict[str, Any]) -> list[list[object]]:
    return [
        [
            label,
            x["window_s"],
            x["finished"],
            x["per_s"],
            f"{x['per_hour_extrapolated']:,}",
            x["memory_peak_total_mib"].get("worker") or sum(x["memory_peak_total_mib"].values()),
            x["state"]["failed"],
        ]
        for label, x in runs.items()
    ]


WINDOW_HEADERS = [
    "run",
    "window s",
    "fetches finished",
    "per s",
    "per hour (extrapolated)",
    "peak RSS MiB (worker.py tree)",
    "failed fetches (total)",
]


def _unchanged(r: dict[str, Any]) -> list[str]:
    best = max(x["per_s"] for x in r.values())
    default = r["default settings"]["per_s"]
    return [
        "## 5. Unchanged feeds (304s), one worker.py",
        "",
        table(WINDOW_HEADERS, _window_rows(r)),
        "",
        f"Target >= 500 refreshes/s: default settings {default}/s {_verdict(default >= 500)}; "
        f"best {best}/s.",
        *_ran_out(r),
        "",
    ]


def _ran_out(runs: dict[str, Any]) -> list[str]:
    """A window that outlasted the due feeds measures the data set, not the worker."""
    short = [label for label, x in runs.items() if x["state"]["pending"] == 0]
    if not short:
        return []
    return [
        "",
        f"Every due feed was refreshed before the window ended in: {', '.join(short)}; "
        "those rates are lower bounds.",
    ]


def _fresh(r: dict[str, Any]) -> list[str]:
    main = r["1 x worker.py (defaults)"]
    mem = main["memory_peak_total_mib"].get("worker0", 0)
    per_hour = main["per_hour_extrapolated"]
    return [
        "## 6. Freshness at scale (median 300 ms, 5 % at 3 s, 1 % never answering)",
        "",
        table(WINDOW_HEADERS, _window_rows(r)),
        "",
        f"One worker.py with default settings: {per_hour:,} feeds/hour, extrapolated from "
        f"{main['finished']} fetches finished in a {main['window_s']} s window; peak RSS of its "
        f"processes together {mem} MiB. Targets: >= 100,000/hour {_verdict(per_hour >= 100_000)}; "
        f"under 512 MB {_verdict(mem * 2**20 < 512e6)}.",
        "",
    ]


def _memory(results: dict[str, Any]) -> list[str]:
    rows: list[list[object]] = []
    web = results.get("web")
    if web:
        rows += [["web (gunicorn) at rest", k, v] for k, v in web["web_memory_rest_mib"].items()]
        rows += [
            ["web under scenario 1 load (peak)", k, v]
            for k, v in web["web_memory_load_peak_mib"].items()
        ]
    rest = results.get("memory")
    if rest:
        rows += [["worker.py at rest", k, v] for k, v in rest.items()]
    fresh = results.get("freshness", {}).get("1 x worker.py (defaults)")
    if fresh:
        for name, peaks in fresh["memory_peak_mib"].items():
            rows += [[f"{name} under scenario 6 load (peak)", k, v] for k, v in peaks.items()]
    return ["## 8. Memory (RSS, psutil)", "", table(["state", "process", "MiB"], rows), ""]


def render(results: dict[str, Any]) -> str:
    """The whole of docs/benchmarks.md."""
    out = [
        "# Benchmarks",
        "",
        "feedqueue against the article's non-scalable approach (fetching in the request), on",
        "one machine: gunicorn (the project's `gunicorn.conf.py`), `python worker.py`,",
        "Postgres, Redis, the load generator (wrk) and the loopback feed server",
        "(`bench/feedserver.py`) all share it.",
        "",
        f"Run: `{results.get('command', 'python -m bench.run --full')}` "
        f"({results.get('mode')} mode, started {results.get('started')}). "
        "`make bench` runs a quick pass. Raw results: "
        "`bench/results/*.json`.",
        *[
            f"Re-run afterwards: {', '.join(r['scenarios'])} with `{r['command']}` "
            f"(started {r['started']}, `bench/results/{r['file']}`)."
            for r in results.get("reruns", [])
        ],
        "",
        "App environment: FEEDQUEUE_ENV=production, SECRET_KEY set,",
        "FETCH_ALLOW_PRIVATE_NETWORKS=true, SUBMIT_RATE_LIMIT=1000000 per second,",
        "LOG_LEVEL=WARNING, FETCH_HOST_CONCURRENCY=100000 and FETCH_HOST_PER_MINUTE=100000000",
        "(every bench feed is on one loopback host that stands for thousands of sites),",
        "PIN_CPUS=true (the box runs nothing but the bench: each web and worker process",
        "keeps to one core, see app/affinity.py; rows marked PIN_CPUS=false show the default),",
        "Postgres database feedqueue_bench, Redis db 10; other settings at their defaults",
        "unless a row says otherwise. Load generator: wrk 4.1 with Lua scripts in bench/lua/",
        "(a per-thread pacer gives fixed-rate runs; see bench/loadgen.py for why wrk).",
        "Every request is the bench user's, signed with its API token (`Authorization: Bearer`):",
        "the token's lookup is part of each request's cost (`python -m bench.auth_cost`",
        "compares it with a session cookie and HTTP Basic); feeds the bench seeds with SQL",
        "are followed by the bench user, as the scheduler refreshes only followed feeds.",
        "",
        "## Machine",
        "",
        machine_table(results["machine"]),
        "",
    ]
    if "web" in results:
        out += _web(results["web"])
    if "latency" in results:
        out += _latency(results["latency"])
    if "cpu" in results:
        out += _cpu(results["cpu"])
    if "unchanged" in results:
        out += _unchanged(results["unchanged"])
    if "freshness" in results:
        out += _fresh(results["freshness"])
    out += [
        "## 7. Scale-out",
        "",
        "See the rows with 1, 2 and 4 processes and two worker.py in sections 4 and 6.",
        "",
    ]
    if SCALE_OUT.exists():  # bench.scale_out's runs: long, run on their own
        out += [SCALE_OUT.read_text()]
    out += _memory(results)
    if WEBSUB.exists():  # bench.websub's runs: push versus polling, run on their own
        out += [WEBSUB.read_text()]
    if FINDINGS.exists():
        out += [FINDINGS.read_text()]
    return "\n".join(out) + "\n"

"""Drive HTTP load with wrk (closed-loop; paced to a fixed rate by a Lua script).

wrk is used because it is a well-known, low-overhead C load generator: on a
2-core box shared with the app, a Python generator would take the CPU the app
needs. wrk is closed-loop; ``bench/lua/common.lua`` paces each thread to a
fixed schedule so that, while connections are free, requests leave at the
offered rate whatever the latency (open-loop in effect). When every connection
is busy, the achieved rate falls below the offered one; the result reports both.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
WRK = os.environ.get("BENCH_WRK", "wrk")


@dataclass
class LoadResult:
    """One wrk run: what was offered, what came back, and how fast."""

    command: str
    connections: int
    duration_s: float
    offered_rate: float | None
    requests: int
    achieved_rate: float
    errors: int
    error_rate: float
    errors_by_kind: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_wrk(
    url: str,
    script: str,
    *,
    connections: int,
    duration: float,
    threads: int = 2,
    rate: float | None = None,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> LoadResult:
    """Run wrk with ``bench/lua/<script>`` against ``url`` (loopback only)."""
    assert url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
    threads = max(1, min(threads, connections))
    wrk_env = dict(os.environ, BENCH_LUA_DIR=str(LUA_DIR), BENCH_THREADS=str(threads))
    if rate:
        wrk_env["BENCH_RATE"] = str(rate)
    wrk_env.update(env or {})
    args = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(duration)}s",
        f"--timeout={int(timeout)}s",
        "-s",
        str(LUA_DIR / script),
        url,
    ]
    # The command goes into the results: it names the credentials, never shows them.
    shown_env = {k: v for k, v in wrk_env.items() if k.startswith("BENCH_")}
    for secret in ("BENCH_TOKEN", "BENCH_AUTH_VALUE"):
        if secret in shown_env:
            shown_env[secret] = f"<{secret.lower()[6:]}>"
    shown = " ".join(
        [f"{k}={shlex.quote(v)}" for k, v in sorted(shown_env.items())]
        + [shlex.quote(a) for a in args]
    )
    # Thousands of connections need more descriptors than the default 1024.
    proc = subprocess.run(
        ["bash", "-c", 'ulimit -n 65536 2>/dev/null || ulimit -n 4096; exec "$@"', "wrk", *args],
        env=wrk_env,
        capture_output=True,
        text=True,
        timeout=duration + timeout + 60,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    raw = json.loads(line[len("BENCHJSON ") :])
    kinds = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}
    errors = sum(kinds.values())
    seconds = raw["duration_us"] / 1e6
    # Responses (any status) plus attempts that never got one; status errors are
    # responses already counted in "requests".
    attempted = raw["requests"] + sum(kinds[k] for k in ("connect", "read", "write", "timeout"))
    return LoadResult(
        command=shown,
        connections=connections,
        duration_s=round(seconds, 2),
        offered_rate=rate,
        requests=raw["requests"],
        achieved_rate=round(raw["requests"] / seconds, 1),
        errors=errors,
        error_rate=round(errors / attempted, 4) if attempted else 0.0,
        errors_by_kind=kinds,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        p999_ms=raw["p999_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
    )

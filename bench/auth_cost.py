"""What signing a request costs: API token, session cookie or HTTP Basic, per request.

Every page and API needs someone signed in, so every request of the web scenarios
pays for finding who sends it. This runs the polling request of those scenarios
(``GET /fetches/<id>``, bench/lua/get_paths.lua) against one gunicorn with wrk,
closed-loop, once per way of signing it:

- ``bearer``: the bench user's API token (what the load generators send): a SHA-256
  and the token's row (its owner's id; its last use is written at most once a minute);
- ``session``: the signed cookie a browser gets at sign-in: the user's row;
- ``basic``: HTTP Basic with the name and password: an argon2id check each time.

For each: requests/s, latency, the web processes' CPU per request, the CPU of the
Postgres backends serving them per request, and the updates of api_tokens per
request (pg_stat_user_tables of the bench database alone).

    flock /tmp/feedqueue-bench.lock .venv/bin/python -m bench.auth_cost --seconds 20
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import requests

from bench import machine
from bench.accounts import BENCH_PASSWORD, BENCH_USER
from bench.data import fetch_paths, submit_feeds
from bench.loadgen import run_wrk
from bench.stack import (
    Services,
    feed_base,
    reset_data,
    running,
    start_services,
    start_web,
    web_url,
)

METHODS = ("bearer", "session", "basic")


def session_cookie(base: str) -> str:
    """Sign the bench user in through the sign-in form; the ``Cookie`` header it gives.

    The cookie is Secure in production, so it is read from the answers and sent by
    hand over loopback http."""
    form = requests.get(f"{base}/signin", timeout=10)
    form.raise_for_status()
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if match is None:
        raise RuntimeError("no CSRF token in the sign-in form")
    cookies = "; ".join(f"{c.name}={c.value}" for c in form.cookies)
    answer = requests.post(
        f"{base}/signin",
        data={"username": BENCH_USER, "password": BENCH_PASSWORD, "csrf_token": match[1]},
        headers={"Cookie": cookies},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 303 or "session" not in answer.cookies:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
    return f"session={answer.cookies['session']}"


def _auth_env(services: Services, method: str, cookie: str) -> dict[str, str]:
    if method == "bearer":
        return {"BENCH_TOKEN": services.user.token}
    if method == "session":
        return {"BENCH_AUTH_HEADER": "Cookie", "BENCH_AUTH_VALUE": cookie}
    basic = base64.b64encode(f"{BENCH_USER}:{BENCH_PASSWORD}".encode()).decode()
    return {"BENCH_AUTH_HEADER": "Authorization", "BENCH_AUTH_VALUE": f"Basic {basic}"}


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """CPU seconds (user + system) the processes have used; ended ones count 0."""
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def backend_processes(services: Services) -> list[psutil.Process]:
    """The Postgres backends connected to the bench database (the web's pool)."""
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        pids = [int(r[0]) for r in cur.fetchall()]
    conn.close()
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


def _token_updates(services: Services) -> tuple[int, int]:
    conn = services.connect_db()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'api_tokens'"
        )
        row = cur.fetchone()
    conn.close()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def measure(
    services: Services,
    web: Callable[[], list[psutil.Process]],
    base: str,
    paths_file: str,
    method: str,
    cookie: str,
    *,
    connections: int,
    seconds: float,
) -> dict[str, Any]:
    """One closed-loop run of ``GET /fetches/<id>`` signed the ``method`` way against
    the gunicorn at ``base`` whose processes ``web()`` lists."""
    env = {"BENCH_PATHS_FILE": paths_file, **_auth_env(services, method, cookie)}
    # Warm-up: every gunicorn thread's pooled connection open before the CPU is read.
    run_wrk(f"{base}/", "get_paths.lua", connections=connections, duration=2, env=env)
    backends = backend_processes(services)
    updates = _token_updates(services)
    web_cpu, pg_cpu = cpu_seconds(web()), cpu_seconds(backends)
    result = run_wrk(
        f"{base}/", "get_paths.lua", connections=connections, duration=seconds, env=env
    )
    web_cpu, pg_cpu = cpu_seconds(web()) - web_cpu, cpu_seconds(backends) - pg_cpu
    # Statistics reach pg_stat_user_tables when a backend goes idle: give them a moment.
    time.sleep(1.0)
    after = _token_updates(services)
    answered = max(1, result.requests)
    return {
        "method": method,
        "requests": result.requests,
        "errors": result.errors,
        "requests_per_s": result.achieved_rate,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "web_cpu_ms_per_request": round(web_cpu / answered * 1000, 3),
        "postgres_cpu_ms_per_request": round(pg_cpu / answered * 1000, 3),
        "token_updates_per_request": round((after[0] - updates[0]) / answered, 3),
        "token_hot_updates_per_request": round((after[1] - updates[1]) / answered, 3),
        "command": result.command,
    }


def run(args: Any) -> dict[str, Any]:
    """Every method in turn against one gunicorn; the machine and the rows."""
    services = start_services()
    try:
        reset_data(services)
        submit_feeds(services, feed_base(), 1, 200)
        paths = fetch_paths(services, 200)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(paths) + "\n")
        web = start_web(services)
        with running(web):
            cookie = session_cookie(web_url())
            rows = [
                measure(
                    services,
                    web.tree,
                    web_url(),
                    f.name,
                    method,
                    cookie,
                    connections=args.connections,
                    seconds=args.seconds,
                )
                for method in args.methods.split(",")
            ]
        Path(f.name).unlink()
        return {
            "machine": machine.describe(services),
            "command": "python -m bench.auth_cost " + " ".join(sys.argv[1:]),
            "connections": args.connections,
            "seconds": args.seconds,
            "rows": rows,
        }
    finally:
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured run per method")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--methods", default=",".join(METHODS), help="e.g. bearer,session")
    args = parser.parse_args(argv)
    unknown = set(args.methods.split(",")) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

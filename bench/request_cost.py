"""What one submission and one status poll cost the web, one request at a time.

    flock /tmp/feedqueue-bench.lock .venv/bin/python -m bench.request_cost [--requests 2000]

Starts gunicorn (gunicorn.conf.py, settings at their defaults but the backlog's
QUEUE_MAX_JOBS; no worker runs, so the jobs stay queued) and sends, over one
keep-alive connection and one request at a time, ``--requests`` ``POST /feeds`` (each a
new feed), then as many ``GET /fetches/<id>`` of the last one, each signed with the
bench account's API token, after ``--warm`` of each that are not counted. Prints,
per kind: latency percentiles, and the CPU of the web (gunicorn's tree) and of the
Postgres backends serving it per request. With nothing else running, these are the
costs that scenario 1 and 2's rates multiply: a change to the request path shows here
first, in about a minute. Run it in turns with the code before the change: the
figures of one run on a shared box move by a tenth from run to run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import machine
from bench.auth_cost import backend_processes, cpu_seconds
from bench.reader_scale import percentiles
from bench.stack import (
    BACKLOG,
    WEB_PORT,
    Services,
    feed_url,
    reset_data,
    running,
    start_services,
    start_web,
)


class Client:
    """One keep-alive connection to the web, signed as the bench account."""

    def __init__(self, services: Services, port: int = WEB_PORT) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {**services.user.headers(), "Accept": "application/json"}
        self.status_url = ""

    def post(self, n: int) -> float:
        """Submit feed ``n``; ms taken. Remembers the fetch to poll."""
        started = time.perf_counter()
        body = json.dumps({"url": feed_url(n)})
        headers = {**self.headers, "Content-Type": "application/json"}
        self.conn.request("POST", "/feeds", body, headers)
        answer = self.conn.getresponse()
        data = answer.read()
        if answer.status != 202:
            raise RuntimeError(f"POST /feeds answered {answer.status}: {data[:200]!r}")
        self.status_url = json.loads(data)["status_url"]
        return (time.perf_counter() - started) * 1000

    def poll(self, _n: int) -> float:
        """Read the last submission's status; ms taken."""
        started = time.perf_counter()
        self.conn.request("GET", self.status_url, headers=self.headers)
        answer = self.conn.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"GET {self.status_url} answered {answer.status}: {data[:200]!r}")
        return (time.perf_counter() - started) * 1000


def measure(
    send: Callable[[int], float],
    web_cpu: Callable[[], float],
    postgres_cpu: Callable[[], float],
    *,
    requests: int,
    warm: int,
    first: int = 0,
) -> dict[str, Any]:
    """``warm`` uncounted requests, then ``requests`` counted ones, one at a time."""
    for n in range(first, first + warm):
        send(n)
    web, postgres = web_cpu(), postgres_cpu()
    started = time.perf_counter()
    latencies = [send(n) for n in range(first + warm, first + warm + requests)]
    wall = time.perf_counter() - started
    web, postgres = web_cpu() - web, postgres_cpu() - postgres
    return {
        **percentiles(latencies),
        "requests_per_s": round(requests / wall, 1),
        "web_cpu_ms_per_request": round(web / requests * 1000, 3),
        "postgres_cpu_ms_per_request": round(postgres / requests * 1000, 3),
    }


def run(args: Any) -> dict[str, Any]:
    """Both kinds of request against one gunicorn; the machine and the rows."""
    services = start_services()
    try:
        reset_data(services)
        web = start_web(services, **BACKLOG)
        with running(web):
            client = Client(services)
            client.post(0)  # the web's pool connections exist before their CPU is read
            backends = backend_processes(services)
            kinds = (("POST /feeds", client.post, 1), ("GET /fetches/<id>", client.poll, 0))
            rows = {}
            for kind, send, first in kinds:
                rows[kind] = measure(
                    send,
                    lambda: cpu_seconds(web.tree()),
                    lambda: cpu_seconds(backends),
                    requests=args.requests,
                    warm=args.warm,
                    first=first,
                )
        return {
            "machine": machine.describe(services),
            "command": "python -m bench.request_cost " + " ".join(sys.argv[1:]),
            "rows": rows,
        }
    finally:
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="counted requests per kind")
    parser.add_argument("--warm", type=int, default=300, help="uncounted requests first")
    args = parser.parse_args(argv)
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

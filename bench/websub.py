"""What WebSub push buys: time from a publisher's ping to the item in the JSON API.

``python -m bench.websub [--pings 200]`` (under ``flock /tmp/feedqueue-bench.lock``)
starts gunicorn and ``worker.py`` (PUBLIC_URL set to the web's loopback address), a
publisher (a loopback feed server) and a loopback WebSub hub (tests/websub_hub.py,
the one the end-to-end tests use). The bench user submits the publisher's feed; the
worker's first fetch finds the hub and subscribes; the hub verifies by calling the
web. Then, per ping: a new entry goes into the feed, the publisher pings the hub
(``hub.mode=publish``), the hub fetches the feed and POSTs it, signed, to the web's
callback; the web stores it and a worker parses and stores it. The clock stops when
``GET /api/items`` (the bench user's API token) lists the entry. Polled every 5 ms.

The polling path's figure is its interval: without push, a new entry waits for the
feed's next scheduled refresh, on average half an interval (REFRESH_MIN_SECONDS to
REFRESH_MAX_SECONDS; REFRESH_DEFAULT_SECONDS until the feed's rhythm is learned).
Writes bench/websub.md (included in docs/benchmarks.md by bench/docs.py) and JSON
to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from typing import Any

import requests

from bench import machine
from bench.stack import (
    ROOT,
    running,
    start_services,
    start_web,
    start_worker,
    wait_until,
    web_url,
)
from tests.feedserver import FeedServer, Request, Response
from tests.websub_hub import Hub

FRAGMENT = ROOT / "bench" / "websub.md"
RESULTS = ROOT / "bench" / "results"
#: Settings of the run beyond bench.stack's (each one named in the report).
SETTINGS = {
    # 200 pings in a few minutes: far above a real feed's pace, so the per-subscription
    # limit (60 a minute by default) is lifted; everything else is as deployed.
    "WEBSUB_DELIVERIES_PER_MINUTE": "100000",
    "WEBSUB_EVERY_SECONDS": "1",
}
#: A ping whose entry is not listed this many seconds later counts as missed.
MISSED_AFTER = 20.0
#: Entries the publisher's feed keeps (newest first), as a blog's feed does.
FEED_ENTRIES = 20


class Publisher:
    """A feed whose entries grow by one per ping, served on loopback."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.entries: list[str] = ["entry-0"]
        self._lock = threading.Lock()
        self.server = FeedServer().start()
        self.url = self.server.route("/feed.atom", self._serve)

    def _serve(self, _request: Request) -> Response:
        with self._lock:
            entries = list(self.entries[-FEED_ENTRIES:])
        body = "".join(
            f"<entry><id>urn:bench:{e}</id><title>{e}</title>"
            f"<updated>2026-11-30T10:00:00Z</updated><content>{e}</content></entry>"
            for e in reversed(entries)
        )
        document = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>Publisher</title><link rel="hub" href="{self.hub_url}"/>'
            f'<link rel="self" href="{self.url}"/><id>urn:bench</id>'
            f"<updated>2026-11-30T10:00:00Z</updated>{body}</feed>"
        )
        return Response(200, document.encode(), {"Content-Type": "application/atom+xml"})

    def post(self, title: str) -> None:
        """Publish a new entry and ping the hub, as a blog engine does."""
        with self._lock:
            self.entries.append(title)
        answer = requests.post(
            self.hub_url, data={"hub.mode": "publish", "hub.url": self.url}, timeout=5
        )
        answer.raise_for_status()


def _listed(session: requests.Session, title: str) -> bool:
    response = session.get(web_url("/api/items?limit=5"), timeout=5)
    response.raise_for_status()
    return any(item["title"] == title for item in response.json()["items"])


def measure(pings: int) -> dict[str, Any]:
    """Run the stack and time ``pings`` publications; returns the figures."""
    services = start_services()
    described = machine.describe(services)
    hub = Hub().start()
    publisher = Publisher(hub.url)
    api = requests.Session()
    api.headers.update(services.user.headers())
    try:
        web = start_web(services, **SETTINGS)  # the web checks the delivery rate
        worker = start_worker(services, PUBLIC_URL=web_url(), **SETTINGS)
        with running(web, worker):
            submitted = api.post(web_url("/feeds"), json={"url": publisher.url}, timeout=5)
            submitted.raise_for_status()
            wait_until(lambda: hub.subscribers(publisher.url), 60, "the hub's verification")
            wait_until(lambda: _listed(api, "entry-0"), 30, "the first fetch's item")
            latencies: list[float] = []
            missed = 0
            for n in range(1, pings + 1):
                title = f"entry-{n}"
                started = time.perf_counter()
                publisher.post(title)
                while not _listed(api, title):
                    if time.perf_counter() - started > MISSED_AFTER:
                        missed += 1  # reported: a lost push is a finding, not a crash
                        break
                    time.sleep(0.005)
                else:
                    latencies.append(time.perf_counter() - started)
                time.sleep(0.05)  # pings a little apart: one publication at a time
    finally:
        publisher.server.stop()
        hub.stop()
        services.close()
    ordered = sorted(latencies)
    return {
        "machine": described,
        "pings": pings,
        "missed": missed,
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.90 * (len(ordered) - 1))] * 1000, 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def render(result: dict[str, Any]) -> str:
    """The benchmarks section for ``result`` (bench/websub.md)."""
    m = result["machine"]
    load = result["load_before"]
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    return "\n".join(
        [
            "## 9. WebSub push versus polling",
            "",
            f"Run: `flock /tmp/feedqueue-bench.lock python -m bench.websub --pings "
            f"{result['pings']}` (started {result['started']}); {m['cores']} cores "
            f"({m['cpu']}), load average before the run {load[0]:.2f} / {load[1]:.2f} / "
            f"{load[2]:.2f} (1/5/15 min): the machine was shared with other work.",
            "",
            "Publisher's ping to the hub -> the hub fetches the feed and POSTs it, signed, to",
            "the callback -> the web stores it and enqueues a job -> a worker parses it (parser",
            "process, sanitiser, caps) and stores the items -> `GET /api/items` (API token)",
            "lists the new entry. One entry per ping, one ping at a time; everything on",
            f"loopback. Default settings but {settings}.",
            "",
            "| path | pings | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|---|",
            f"| push (WebSub) | {result['pings']} | {result['p50_ms']:.0f} ms | "
            f"{result['p90_ms']:.0f} ms | {result['p99_ms']:.0f} ms | {result['max_ms']:.0f} ms |"
            + (f" ({result['missed']} missed)" if result.get("missed") else ""),
            "| polling, REFRESH_DEFAULT_SECONDS=1800 | - | 15 min (half the interval) | "
            "27 min | 29.7 min | 30 min |",
            "| polling, REFRESH_MIN_SECONDS=300 (the fastest a feed is polled) | - | 2.5 min | "
            "4.5 min | 4.95 min | 5 min |",
            "",
            "The polling rows are the interval's arithmetic, not a measurement: an entry",
            "published at a uniformly random moment waits for the next refresh. While a hub",
            "pushes, the feed is polled every WEBSUB_POLL_SECONDS (6 h) instead.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--no-docs", action="store_true", help="do not write bench/websub.md")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    result = measure(args.pings)
    result.update(
        started=started,
        load_before=load,
        load_after=os.getloadavg(),
        settings=SETTINGS,
        command="python -m bench.websub " + " ".join(sys.argv[1:]),
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"websub-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    text = render(result)
    print(json.dumps({k: result[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")}))
    print(f"load average before {load}, after {result['load_after']}")
    if not args.no_docs:
        FRAGMENT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

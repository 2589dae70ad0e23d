"""A loopback feed server for benchmarks: thousands of distinct, slow, cacheable feeds.

Raw asyncio streams (no framework) so one process holds thousands of open, slow
connections cheaply. ``GET /feed/<n>.xml`` serves RSS feed ``n``; how it answers is
decided by the options below, per feed and per request:

- latency: ``fixed:5`` (every answer after 5 s), ``zero``, or ``realistic:300:3:5:1``
  (median 300 ms log-normal; 5 % of feeds answer after 3 s; 1 % never answer).
  Slow and silent feeds are chosen by feed number, so they stay the same feeds.
- items per feed, bytes of text per item, change rate (the chance that a fetch sees
  a new version of the feed), ETag/Last-Modified with 304 answers, error rate (503).

Run: ``python -m bench.feedserver --port 8700 --latency fixed:5``. ``GET /stats``
returns counters as JSON. ``--hosts N`` also listens on N more loopback addresses
(:func:`host_address`), so feeds can live on many hosts as they do on the web.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import zlib
from dataclasses import dataclass, field
from email.utils import formatdate

FEED_PATH = re.compile(rb"^/feed/(\d+)\.xml$")
EPOCH = 1_700_000_000  # fixed base for Last-Modified, so validators are reproducible


@dataclass(frozen=True)
class Latency:
    """How long feed ``n`` takes to answer; ``None`` means it never answers."""

    kind: str = "zero"
    median: float = 0.0
    slow_seconds: float = 3.0
    slow_share: float = 0.0
    never_share: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Latency:
        """``zero`` | ``fixed:<s>`` | ``realistic:<median ms>:<slow s>:<slow %>:<never %>``."""
        parts = spec.split(":")
        if parts[0] == "zero":
            return cls()
        if parts[0] == "fixed":
            return cls(kind="fixed", median=float(parts[1]))
        if parts[0] == "realistic":
            median_ms, slow_s, slow_pct, never_pct = (float(p) for p in parts[1:5])
            return cls("realistic", median_ms / 1000, slow_s, slow_pct / 100, never_pct / 100)
        raise ValueError(f"bad latency spec {spec!r}")

    def delay(self, n: int, rng: random.Random) -> float | None:
        if self.kind == "zero":
            return 0.0
        if self.kind == "fixed":
            return self.median
        # A stable per-feed draw decides the feed's class; the delay itself varies.
        bucket = (zlib.crc32(str(n).encode()) % 10_000) / 10_000
        if bucket < self.never_share:
            return None
        if bucket < self.never_share + self.slow_share:
            return self.slow_seconds
        return min(self.slow_seconds, self.median * math.exp(rng.gauss(0.0, 0.5)))


@dataclass
class Options:
    latency: Latency = field(default_factory=Latency)
    items: int = 20
    item_bytes: int = 400
    change_rate: float = 0.0
    error_rate: float = 0.0
    seed: int = 1


@dataclass
class Stats:
    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    errors: int = 0
    silent: int = 0
    open_connections: int = 0


class FeedServer:
    """The server's state: per-feed versions and counters."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.versions: dict[int, int] = {}
        self.stats = Stats()
        self._filler = ("lorem ipsum dolor sit amet " * 200).encode()

    def version_for(self, n: int) -> int:
        """The feed's current version, moved on by ``change_rate`` at each fetch."""
        version = self.versions.get(n)
        if version is None:
            version = 0
        elif self.rng.random() < self.options.change_rate:
            version += 1
        self.versions[n] = version
        return version

    def document(self, n: int, version: int) -> bytes:
        """RSS 2.0 for feed ``n`` at ``version``: each version adds ``items`` new items."""
        opts = self.options
        filler = self._filler[: opts.item_bytes].decode()
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
            f"<title>Bench feed {n}</title><link>http://127.0.0.1/site/{n}</link>",
            "<description>benchmark feed</description>",
        ]
        for i in range(opts.items):
            key = f"{n}-{version}-{i}"
            stamp = formatdate(EPOCH + version * 3600 + i, usegmt=True)
            parts.append(
                f"<item><title>Item {key}</title><link>http://127.0.0.1/post/{key}</link>"
                f'<guid isPermaLink="false">{key}</guid><pubDate>{stamp}</pubDate>'
                f"<description>&lt;p&gt;{filler}&lt;/p&gt;</description></item>"
            )
        parts.append("</channel></rss>\n")
        return "".join(parts).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.open_connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                keep_alive = await self._answer(head, writer)
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.stats.open_connections -= 1
            writer.close()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> bool:
        lines = head.split(b"\r\n")
        method, path, _version = (lines[0].split(b" ") + [b"", b""])[:3]
        headers = {}
        for line in lines[1:]:
            if b":" in line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        self.stats.requests += 1
        if path == b"/stats":
            await self._send(writer, 200, json.dumps(self.stats.__dict__).encode(), {})
            return True
        match = FEED_PATH.match(path.split(b"?")[0])
        if method not in (b"GET", b"HEAD") or match is None:
            await self._send(writer, 404, b"not found", {})
            return True
        n = int(match.group(1))
        delay = self.options.latency.delay(n, self.rng)
        if delay is None:
            self.stats.silent += 1
            await asyncio.sleep(3600)  # hold the connection; the client gives up first
            return False
        if delay:
            await asyncio.sleep(delay)
        if self.rng.random() < self.options.error_rate:
            self.stats.errors += 1
            await self._send(writer, 503, b"try later", {})
            return True
        version = self.version_for(n)
        etag = f'"{n}-{version}"'.encode()
        modified = formatdate(EPOCH + version * 3600, usegmt=True).encode()
        validators = {b"ETag": etag, b"Last-Modified": modified}
        if headers.get(b"if-none-match") == etag or (
            b"if-none-match" not in headers and headers.get(b"if-modified-since") == modified
        ):
            self.stats.not_modified += 1
            await self._send(writer, 304, b"", validators)
            return True
        self.stats.ok += 1
        body = self.document(n, version) if method == b"GET" else b""
        validators[b"Content-Type"] = b"application/rss+xml; charset=utf-8"
        await self._send(writer, 200, body, validators)
        return True

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[bytes, bytes]
    ) -> None:
        reason = {200: b"OK", 304: b"Not Modified", 404: b"Not Found", 503: b"Unavailable"}
        out = [b"HTTP/1.1 %d %s" % (status, reason.get(status, b"X"))]
        out += [k + b": " + v for k, v in headers.items()]
        out.append(b"Content-Length: %d" % len(body))
        writer.write(b"\r\n".join(out) + b"\r\n\r\n" + body)
        await writer.drain()


def host_address(index: int) -> str:
    """The loopback address of bench host ``index`` (0, 1, ...): 127.1.0.1, 127.1.0.2, ..."""
    number = index + 1
    return f"127.1.{number // 256}.{number % 256}"


async def serve(options: Options, host: str, port: int, hosts: int = 0) -> None:
    """Serve until cancelled, on ``host`` and on ``hosts`` bench host addresses."""
    server = FeedServer(options)
    addresses = [host, *(host_address(i) for i in range(hosts))]
    listener = await asyncio.start_server(server.handle, addresses, port, backlog=4096)
    async with listener:
        await listener.serve_forever()


def parse_args(argv: list[str] | None = None) -> tuple[Options, str, int, int]:
    parser = argparse.ArgumentParser(description="loopback feed server for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--latency", default="zero", help="zero | fixed:S | realistic:MS:S:P:P")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--item-bytes", type=int, default=400)
    parser.add_argument("--change-rate", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=0, help="more loopback addresses to serve on")
    args = parser.parse_args(argv)
    if not 0 <= args.hosts < 65_000:
        parser.error("--hosts must be between 0 and 64999")
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("the feed server listens on loopback only")
    options = Options(
        latency=Latency.parse(args.latency),
        items=args.items,
        item_bytes=args.item_bytes,
        change_rate=args.change_rate,
        error_rate=args.error_rate,
        seed=args.seed,
    )
    return options, args.host, args.port, args.hosts


def main(argv: list[str] | None = None) -> None:
    options, host, port, hosts = parse_args(argv)
    try:
        asyncio.run(serve(options, host, port, hosts))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

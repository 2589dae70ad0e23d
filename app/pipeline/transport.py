"""HTTP transport for one fetch: connections pinned to checked addresses, and a deadline.

urllib3 connections normally resolve the host again when they connect, which would let a
DNS answer that changed since the guard's check (DNS rebinding) pick the address. Here the
connection classes connect to the addresses the guard checked, while the Host header, TLS
SNI and certificate verification keep using the URL's host name.

Socket timeouts bound each read, but a server can still drip one byte per read forever
(in headers, in a TLS handshake, inside a compressed block). A watchdog therefore
shuts the fetch's sockets down when the overall deadline passes: one thread per process
watches every fetch's deadline, rather than a timer thread started for each fetch.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .addresses import normalise_host
from .guard import SockAddr, Target


class FetchContext:
    """Per-fetch state: deadline, checked addresses, and the sockets to cut at the deadline."""

    def __init__(self, deadline_at: float) -> None:
        self.deadline_at = deadline_at
        self.expired = False
        self._targets: dict[tuple[str, int], tuple[SockAddr, ...]] = {}
        self._sockets: list[socket.socket] = []  # dup()s we own, so closing theirs is harmless
        self._lock = threading.Lock()
        self.closed = False
        _WATCHDOG.watch(self)

    def remaining(self) -> float:
        """Seconds left before the deadline (may be negative)."""
        return self.deadline_at - time.monotonic()

    def pin(self, target: Target) -> None:
        """Record the checked addresses for a host, to be used by the next connections."""
        with self._lock:
            self._targets[(target.host, target.port)] = target.addresses

    def addresses_for(self, host: str, port: int) -> tuple[SockAddr, ...]:
        """The checked addresses for (host, port); empty when the guard never saw it."""
        with self._lock:
            return self._targets.get((normalise_host(host), port), ())

    def watch(self, sock: socket.socket) -> None:
        """Cut `sock` when the deadline passes (a dup survives TLS wrapping, which detaches it)."""
        with self._lock:
            if self.closed:
                return
            self._sockets.append(sock.dup())
            if self.expired:
                self._shutdown_all()

    def _shutdown_all(self) -> None:
        for s in self._sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer or by us

    def expire(self) -> None:
        """The deadline has passed: cut every socket of this fetch."""
        with self._lock:
            if self.closed:
                return
            self.expired = True
            self._shutdown_all()

    def close(self) -> None:
        """Release the sockets we hold; the watchdog forgets this fetch."""
        with self._lock:
            self.closed = True
            for s in self._sockets:
                s.close()
            self._sockets.clear()


class _Watchdog:
    """Expires each fetch at its deadline, from one thread per process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, FetchContext]] = []
        self._order = itertools.count()  # ties never compare contexts
        self._pid: int | None = None

    def watch(self, ctx: FetchContext) -> None:
        with self._cond:
            if self._pid != os.getpid():
                # First use in this process (threads do not survive a fork).
                self._pid = os.getpid()
                self._heap = []
                threading.Thread(target=self._run, name="feedqueue-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (ctx.deadline_at, next(self._order), ctx))
            if self._heap[0][2] is ctx:
                self._cond.notify()  # sooner than what the thread is waiting for

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    # Finished fetches are dropped as they come up, not searched for.
                    while self._heap and self._heap[0][2].closed:
                        heapq.heappop(self._heap)
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                _, _, due = heapq.heappop(self._heap)
            due.expire()


_WATCHDOG = _Watchdog()


class _PinnedMixin:
    """Connect to the guard's addresses instead of resolving `self.host` again."""

    def __init__(self, *args: Any, fetch_context: FetchContext, **kwargs: Any) -> None:
        self._fetch_context = fetch_context
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        ctx = self._fetch_context
        addresses = ctx.addresses_for(conn.host, conn.port)
        if not addresses:
            # Fail closed: nothing may connect to a host the guard did not check.
            raise NewConnectionError(conn, f"No checked address for {conn.host}")
        timeout = conn.timeout if isinstance(conn.timeout, int | float) else None
        last_error: OSError | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in conn.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect(sockaddr)
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(
                    conn, f"Connection to {conn.host} timed out. (connect timeout={timeout})"
                ) from exc
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            ctx.watch(sock)
            return sock
        raise NewConnectionError(conn, f"Failed to establish a new connection: {last_error}")


class PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    """HTTP connection to a checked address."""


class PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    """HTTPS connection to a checked address; SNI and certificate checks use the host name."""


class _PinnedPoolManager(PoolManager):
    def __init__(self, fetch_context: FetchContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fetch_context = fetch_context

    def _new_pool(self, scheme: str, host: str, port: int, request_context: Any = None) -> Any:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
        pool.conn_kw["fetch_context"] = self._fetch_context
        return pool


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to addresses pinned in the FetchContext."""

    def __init__(self, fetch_context: FetchContext) -> None:
        self._fetch_context = fetch_context
        super().__init__(pool_connections=4, pool_maxsize=1, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Build the pinned pool manager (called by HTTPAdapter.__init__)."""
        self.poolmanager = _PinnedPoolManager(
            self._fetch_context, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Proxies would resolve the host themselves, defeating the guard: refuse them."""
        raise NewConnectionError(None, "Proxies are not supported by the feed fetcher")  # type: ignore[arg-type]

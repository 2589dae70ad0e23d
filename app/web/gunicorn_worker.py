"""gunicorn's threaded worker, with new connections waiting for their request in the poller,
and closed connections lingering there instead of holding up the worker's main thread.

gunicorn 24 and later hand each new connection straight to a worker thread,
which then waits up to 5 s for the request to arrive. A dozen connections opened
and left silent (browser preconnects, a slow or hostile client) held every
thread, and all other requests waited seconds for one (tests/deploy/test_gunicorn.py).
Here a new connection waits in the worker's poller, as a kept-alive one does,
and is handed to a thread when its request arrives, as before gunicorn 24; a
connection whose request is already there when it is accepted (the usual case:
clients send it with the handshake's last packet) goes to a thread at once.

A worker that holds more connections than another leaves a new connection to
that one (:mod:`app.web.worker_loads`), which is woken by it too: it stops
accepting for ACCEPT_RECHECK at a time and looks again, until the connection is
taken or it has waited ACCEPT_DEFER. Kept-alive connections stay where they were
accepted, and two of them on one worker left the other worker's core idle.

The worker's heartbeat to gunicorn's master (a ``utime`` of a temporary file) is
sent at most once a second: gunicorn's loop sends it at every wake-up, which on a
busy worker is a system call per request, while the master only needs one within
its ``timeout`` (20 s).

A connection that is not kept alive is closed gracefully (RFC 9112 section 9.6:
send FIN, read until the client's FIN, then close, so that unread bytes do not
turn into a reset that truncates the response). gunicorn does that wait on the
worker's main thread, the one that accepts connections and hands out requests:
each closed connection stopped the whole worker until its client had read the
response and closed too (up to 2 s). Here the wait happens in the poller.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from functools import partial

from gunicorn import util
from gunicorn.workers import gthread

from app.web.worker_loads import WorkerLoads

#: How long a closed connection may linger for its client's FIN (gunicorn's own figure).
LINGER_SECONDS = 2.0
#: Bytes read from a lingering connection before it is closed anyway (gunicorn's figure).
MAX_DRAIN = 65536
#: Seconds between two heartbeats to the master.
HEARTBEAT_EVERY = 1.0
#: Longest a worker holding more connections than another leaves a new connection to
#: that one before accepting it itself (the other may be slow to wake, or gone).
ACCEPT_DEFER = 0.02
#: How often a worker leaving a connection to another looks again: the counts change
#: as connections come and go, and two workers must not both wait out ACCEPT_DEFER.
ACCEPT_RECHECK = 0.001


class _Conn(gthread.TConn):
    """gunicorn's connection, whose graceful close is left to the worker's poller."""

    def __init__(self, worker: ThreadWorker, *args: object) -> None:
        super().__init__(*args)
        self.worker = worker

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.worker.linger(self.sock)
        else:
            super().close()


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's ``gthread`` worker; accepting and closing a connection differ."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Closed sockets waiting for their client's FIN: socket -> (deadline, bytes read).
        self.lingering: dict[socket.socket, tuple[float, int]] = {}
        self._heartbeat_at = -HEARTBEAT_EVERY
        # The workers' connection counts and this worker's slot in them: set in the
        # master by gunicorn.conf.py's pre_fork (None: no balancing, one worker alone).
        self.loads: WorkerLoads | None = None
        self.load_slot: int | None = None
        self._accept_after = 0.0  # while leaving a connection to a peer: look again then
        self._leaving_since = 0.0  # when this worker began leaving what now waits
        self._asked = False  # a connection waited in this turn of the loop

    def notify(self) -> None:
        """Tell the master this worker is alive, unless it was told within HEARTBEAT_EVERY;
        and the other workers how many connections it holds (at every turn of its loop)."""
        self._publish()
        now = time.monotonic()
        if now - self._heartbeat_at >= HEARTBEAT_EVERY:
            self._heartbeat_at = now
            super().notify()

    def _publish(self) -> None:
        if self.loads is not None:
            self.loads.publish(self.load_slot, self.nr_conns)

    def accept(self, listener: socket.socket) -> None:
        self._asked = True
        if self._leave_to_a_peer():
            return
        self._leaving_since = 0.0
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        if self.loads is not None:
            self.loads.took_one(self.load_slot, self.nr_conns)
        conn = _Conn(self, self.cfg, sock, client, listener.getsockname())
        if _has_data(sock):
            # The request is already here: a thread reads it now, without a trip
            # through the poller (register, wake up, unregister).
            conn.data_ready = True
            self.enqueue_req(conn)
            return
        # gunicorn's own path for a connection whose request is late: the poller
        # gives it a thread once readable, and closes it after the keep-alive timeout.
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

    def _leave_to_a_peer(self) -> bool:
        """Stop accepting for ACCEPT_RECHECK when another worker should take the waiting
        connection, unless this one has left it for ACCEPT_DEFER already."""
        if self.loads is None or not self.loads.should_leave(self.load_slot, self.nr_conns):
            return False
        now = time.monotonic()
        self._leaving_since = self._leaving_since or now
        if now - self._leaving_since >= ACCEPT_DEFER:
            return False
        self._accept_after = now + ACCEPT_RECHECK
        super().set_accept_enabled(False)
        return True

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's, except that accepting stays off while a connection is left to a peer."""
        if not enabled:
            # Off for gunicorn's own reasons (stopping, too many connections): no more
            # looking again, or the stopping worker's loop would wake without a pause.
            self._accept_after = 0.0
        elif self._accept_after:
            if time.monotonic() < self._accept_after:
                return
            self._accept_after = 0.0
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gunicorn's, waking in time to look again at a connection left to a peer."""
        if self._accept_after:
            timeout = min(timeout, max(0.0, self._accept_after - time.monotonic()))
        self._asked = False
        super().wait_for_and_dispatch_events(timeout)
        if self._accepting and not self._asked:
            self._leaving_since = 0.0  # nothing waits any more: another worker took it

    def linger(self, sock: socket.socket) -> None:
        """Close ``sock`` gracefully without waiting here: FIN now, the rest in the poller."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            util.close(sock)
            return
        self.lingering[sock] = (time.monotonic() + LINGER_SECONDS, 0)
        if self._drained(sock):
            del self.lingering[sock]
            util.close(sock)
        else:
            self.poller.register(sock, selectors.EVENT_READ, self._on_lingering_readable)

    def _drained(self, sock: socket.socket) -> bool:
        """Read what the client sent; True at its FIN, an error, or past MAX_DRAIN bytes."""
        deadline, drained = self.lingering[sock]
        while drained < MAX_DRAIN:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                self.lingering[sock] = (deadline, drained)
                return False
            except OSError:
                return True
            if not data:
                return True
            drained += len(data)
        return True

    def _on_lingering_readable(self, sock: socket.socket) -> None:
        if self._drained(sock):
            self._close_lingering(sock)

    def _close_lingering(self, sock: socket.socket) -> None:
        del self.lingering[sock]
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        util.close(sock)

    def murder_pending(self) -> None:
        """gunicorn's clean-up of late requests, and of closed sockets past their linger."""
        super().murder_pending()
        now = time.monotonic()
        for sock, (deadline, _) in list(self.lingering.items()):
            if deadline <= now:
                self._close_lingering(sock)


def _has_data(sock: socket.socket) -> bool:
    """True when bytes (or the client's FIN) wait on the new, non-blocking ``sock``."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True  # a thread finds the error and closes the connection
    return True

"""gunicorn's threaded worker, with new connections waiting for their request in the poller.

gunicorn 24 and later hand each new connection straight to a worker thread,
which then waits up to 5 s for the request to arrive. A dozen connections opened
and left silent (browser preconnects, a slow or hostile client) held every
thread, and all other requests waited seconds for one (tests/deploy/test_gunicorn.py).
Here a new connection waits in the worker's poller, as a kept-alive one does,
and is handed to a thread when its request arrives, as before gunicorn 24.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from functools import partial

from gunicorn.workers import gthread


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's ``gthread`` worker; only accepting a connection differs."""

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = gthread.TConn(self.cfg, sock, client, listener.getsockname())
        # gunicorn's own path for a connection whose request is late: the poller
        # gives it a thread once readable, and closes it after the keep-alive timeout.
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

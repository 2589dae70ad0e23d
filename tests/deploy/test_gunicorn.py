"""The web dyno under connections that are opened and left silent."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from sqlalchemy import func, select

from app.affinity import allowed_cpus, least_used_cpu
from app.placement import decide
from app.storage.db import Database
from app.storage.models import Feed
from app.web.warmup import WARM_UP_URL
from tests.conftest import wait_for
from tests.dynos import WebDyno

# More than the dyno's threads (GUNICORN_THREADS=4 per worker).
SILENT_CONNECTIONS = 12


@contextmanager
def _silent_connections(port: int, count: int) -> Iterator[None]:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    try:
        time.sleep(0.3)  # accepted by gunicorn, and nothing sent
        yield
    finally:
        for sock in socks:
            sock.close()


def test_silent_connections_do_not_hold_up_other_requests(
    start_web: Callable[..., WebDyno],
) -> None:
    web = start_web(workers=1, GUNICORN_THREADS="4")
    with _silent_connections(web.port, SILENT_CONNECTIONS):
        # Were each silent connection to hold a thread for 5 s (gunicorn 24+), this
        # request waits until one comes free: it would time out.
        answer = requests.get(web.base_url + "/healthz", timeout=2)
    assert answer.status_code == 200


def test_a_connection_that_sends_its_request_late_is_still_served(
    start_web: Callable[..., WebDyno],
) -> None:
    web = start_web(workers=1)
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        time.sleep(0.5)  # the request comes long after the connection
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        sock.settimeout(5)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")


def test_clients_slow_to_close_do_not_hold_up_other_requests(
    start_web: Callable[..., WebDyno],
) -> None:
    web = start_web(workers=1)
    close = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    held = [socket.create_connection(("127.0.0.1", web.port)) for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(close)  # answered, then closed by the server; never closed here
        # Were the server to wait for each client's FIN before its next connection
        # (up to 2 s each, as gunicorn's own close does), this would time out.
        answer = requests.get(web.base_url + "/healthz", timeout=3)
        assert answer.status_code == 200
        for sock in held:
            sock.settimeout(5)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200")  # whole, and ended by the server's FIN
    finally:
        for sock in held:
            sock.close()


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request and read its whole response (headers and Content-Length body)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection instead of answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection mid-response"
        body += chunk
    return head


def test_connections_are_kept_alive_between_requests(start_web: Callable[..., WebDyno]) -> None:
    web = start_web(workers=1)
    get = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = b'{"url": "not a url"}'
    post = (
        b"POST /feeds HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.settimeout(5)
        heads = [_exchange(sock, request) for request in (get, post, get)]
    assert [h.split(b"\r\n", 1)[0] for h in heads] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 401 UNAUTHORIZED",  # nobody signed in
        b"HTTP/1.1 200 OK",
    ]


def _holder(web: WebDyno, client: socket.socket) -> int:
    """The pid of the gunicorn worker holding the other end of ``client``."""
    ours = client.getsockname()
    for worker in web.children():
        if any(c.raddr and tuple(c.raddr) == ours for c in worker.net_connections("tcp")):
            return worker.pid
    raise AssertionError(f"no worker holds the connection from {ours}")


def test_kept_alive_connections_are_shared_evenly_by_the_web_workers(
    start_web: Callable[..., WebDyno],
) -> None:
    # Whichever worker woke first took a new connection, and a kept-alive one stays
    # where it was taken: two clients on one worker left the other worker's core idle.
    web = start_web(workers=2)
    wait_for(lambda: web.warmed_up() == 2)  # both workers listen
    get = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for _ in range(3):
        clients = []
        try:
            for _ in range(4):
                clients.append(socket.create_connection(("127.0.0.1", web.port)))
                clients[-1].settimeout(5)
                _exchange(clients[-1], get)
            holders = [_holder(web, client) for client in clients]
            assert sorted(holders.count(pid) for pid in set(holders)) == [2, 2], holders
        finally:
            for client in clients:
                client.close()


def _worker_cpus(web: WebDyno) -> tuple[list[list[tuple[int, ...]]], list[tuple[int, ...]]]:
    master, *workers = web.cpus_by_process().values()
    return sorted(workers), master


def test_with_pin_cpus_each_web_worker_keeps_to_a_cpu_and_a_replacement_takes_the_freed_one(
    start_web: Callable[..., WebDyno],
) -> None:
    web = start_web(workers=2, PIN_CPUS="true")
    allowed = allowed_cpus()
    everything = tuple(sorted(allowed))
    chosen = [least_used_cpu([], allowed), least_used_cpu([least_used_cpu([], allowed)], allowed)]
    # On one CPU there is nothing to choose: the workers keep it.
    expected = sorted([[(cpu,)] if cpu is not None else [everything] for cpu in chosen])
    assert _worker_cpus(web) == (expected, [everything])  # the master is left alone

    first = web.children()[0]
    first.kill()
    first.wait(10)
    wait_for(lambda: first.pid not in web.cpus_by_process() and len(web.cpus_by_process()) == 3)
    wait_for(web.healthy)
    assert _worker_cpus(web) == (expected, [everything])


def _placement_logged(web: WebDyno) -> str | None:
    """The web master's PIN_CPUS=auto decision, as its start-up log line says it."""
    found = re.search(
        r"web: (pins each process to a core|leaves CPU placement to the kernel): .*",
        web.output(),
    )
    return found.group(0) if found else None


def test_by_default_web_workers_are_pinned_only_where_the_machine_looks_their_own(
    start_web: Callable[..., WebDyno],
) -> None:
    web = start_web(workers=2)  # PIN_CPUS unset: auto
    allowed = allowed_cpus()
    # What this machine's files say (no quota here). Steal time is left out: the master
    # sampled its own, and a sample taken here a moment later may fall on the other side
    # of MAX_STEAL, so the master's decision is read from its log and checked against them.
    files = decide(allowed, steal=None)
    logged = str(wait_for(lambda: _placement_logged(web)))
    pinned = logged.startswith("web: pins each process to a core")
    if files.pin:  # only the master's steal sample may have refused it
        stolen = logged.endswith("steal time: the hypervisor shares these CPUs")
        assert stolen != pinned, logged
        if pinned:
            assert logged.startswith(files.summary("web").split(", steal time")[0]), logged
    else:
        assert logged == files.summary("web")
    everything = tuple(sorted(allowed))
    first = least_used_cpu([], allowed)
    chosen = [first, least_used_cpu([first], allowed)]
    if pinned:
        expected = sorted([[(cpu,)] if cpu is not None else [everything] for cpu in chosen])
    else:
        expected = [[everything], [everything]]
    assert _worker_cpus(web) == (expected, [everything])


def test_each_web_worker_warms_up_before_serving_and_keeps_no_data(
    start_web: Callable[..., WebDyno], db: Database
) -> None:
    web = start_web(workers=2)
    wait_for(lambda: web.warmed_up() == 2)
    assert "warm-up failed" not in web.output()
    with db.session() as session:
        kept = session.scalar(
            select(func.count()).select_from(Feed).where(Feed.url.startswith(WARM_UP_URL))
        )
    assert kept == 0

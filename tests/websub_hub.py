"""A small real WebSub hub on loopback, for the tests and the push bench.

It does what a hub does (WebSub 0.4) and no more: a subscriber's POST
(``hub.mode=subscribe|unsubscribe``) is answered 202, then the hub verifies the
intent by calling the callback with a random ``hub.challenge`` and keeps the
subscription only if the callback echoes it. ``distribute`` POSTs content to a
topic's subscribers, signed with each one's ``hub.secret`` (or not, or wrongly,
to test refusals); a publisher's ping (``hub.mode=publish&hub.url=<topic>``) makes
the hub fetch the topic and distribute it, as public hubs do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import requests

from tests.conftest import PATIENCE


@dataclass
class HubSubscription:
    """A subscription the hub verified."""

    callback: str
    topic: str
    secret: str | None
    lease_seconds: int


@dataclass
class Verification:
    """One verification of intent the hub made, and the callback's answer."""

    mode: str
    callback: str
    topic: str
    status: int
    echoed: bool


@dataclass
class Hub:
    """Threaded loopback hub. ``grant_lease`` overrides the lease subscribers ask for;
    ``deny`` denies every subscription; ``refuse`` answers requests 503."""

    grant_lease: int | None = None
    deny: bool = False
    refuse: bool = False  # answer (un)subscription requests 503, as a hub that is down
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)
    verifications: list[Verification] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        hub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status = hub._accept(form)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Hub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the subscriber's side -----------------------------------------------
    def _accept(self, form: dict[str, str]) -> int:
        with self._lock:
            self.requests.append(form)
        mode = form.get("hub.mode", "")
        if mode == "publish":
            topic = form.get("hub.url", "")
            threading.Thread(target=self._fetch_and_distribute, args=(topic,), daemon=True).start()
            return 202
        if mode not in ("subscribe", "unsubscribe") or not form.get("hub.callback"):
            return 400
        if self.refuse:
            return 503
        # Verification happens after the answer, as most hubs do it (asynchronously).
        threading.Thread(target=self._verify, args=(form,), daemon=True).start()
        return 202

    def _verify(self, form: dict[str, str]) -> None:
        mode, callback, topic = form["hub.mode"], form["hub.callback"], form.get("hub.topic", "")
        if self.deny and mode == "subscribe":
            requests.get(
                callback,
                params={"hub.mode": "denied", "hub.topic": topic, "hub.reason": "not here"},
                timeout=5,
            )
            return
        lease = self.grant_lease or int(form.get("hub.lease_seconds") or 86400)
        status, echoed = self.verify(callback, mode, topic, lease)
        with self._changed:
            self.verifications.append(Verification(mode, callback, topic, status, echoed))
            if 200 <= status < 300 and echoed:
                if mode == "subscribe":
                    self.subscriptions[(callback, topic)] = HubSubscription(
                        callback, topic, form.get("hub.secret"), lease
                    )
                else:
                    self.subscriptions.pop((callback, topic), None)
            self._changed.notify_all()

    def verify(
        self, callback: str, mode: str, topic: str, lease: int | None = None
    ) -> tuple[int, bool]:
        """Call ``callback`` to verify ``mode`` of ``topic``: (status, challenge echoed).

        Public so tests can send a verification nobody asked for.
        """
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if lease is not None and mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        sep = "&" if "?" in callback else "?"
        response = requests.get(callback + sep + urlencode(params), timeout=5)
        return response.status_code, response.text == challenge

    def wait_for_verifications(
        self, count: int, timeout: float = PATIENCE
    ) -> list[Verification]:
        """Block until the hub made at least ``count`` verifications; returns them.

        As patient as ``tests.conftest.wait_for``: the first verification waits for a
        worker dyno to boot and fetch.
        """
        with self._changed:
            self._changed.wait_for(lambda: len(self.verifications) >= count, timeout)
            assert len(self.verifications) >= count, self.verifications
            return list(self.verifications)

    # -- the publisher's side ------------------------------------------------
    def subscribers(self, topic: str) -> list[HubSubscription]:
        """The verified subscriptions to ``topic``."""
        with self._lock:
            return [s for s in self.subscriptions.values() if s.topic == topic]

    def distribute(
        self,
        topic: str,
        body: bytes,
        content_type: str = "application/atom+xml",
        *,
        signature: str = "valid",
        method: str = "sha256",
    ) -> list[int]:
        """POST ``body`` to every subscriber of ``topic``; their answers' statuses.

        ``signature``: ``valid`` (the subscriber's secret), ``wrong`` (another key),
        ``none`` (no header).
        """
        statuses = []
        for sub in self.subscribers(topic):
            headers = {"Content-Type": content_type, "Link": f'<{self.url}>; rel="hub"'}
            if signature != "none":
                key = (sub.secret or "") if signature == "valid" else "not-the-secret"
                digest = hmac.new(key.encode(), body, getattr(hashlib, method)).hexdigest()
                headers["X-Hub-Signature"] = f"{method}={digest}"
            response = requests.post(sub.callback, data=body, headers=headers, timeout=10)
            statuses.append(response.status_code)
        return statuses

    def _fetch_and_distribute(self, topic: str) -> None:
        response = requests.get(topic, timeout=10)
        kind = response.headers.get("Content-Type", "application/atom+xml")
        self.distribute(topic, response.content, kind)

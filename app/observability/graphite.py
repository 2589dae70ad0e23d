"""Push samples to Graphite over the carbon plaintext protocol (``<path> <value> <timestamp>\\n``).

Off unless configured. ``GRAPHITE_URL=tcp://host:2003`` names a carbon
listener; ``HOSTEDGRAPHITE_APIKEY`` (set by Heroku's Hosted Graphite add-on)
prefixes every path with the key and, without GRAPHITE_URL, sends to
``carbon.hostedgraphite.com:2003``. Each push is one short TCP connection with
a two-second timeout; a failed push is logged and dropped, never retried, so
a slow Graphite cannot back up the process that measures.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from app.config import Settings

log = logging.getLogger(__name__)

HOSTED_GRAPHITE = ("carbon.hostedgraphite.com", 2003)
NAMESPACE = "feedqueue"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def graphite_target(settings: Settings) -> tuple[str, int, str] | None:
    """(host, port, path prefix) from the settings, or None when Graphite is off."""
    key = settings.hostedgraphite_apikey
    if settings.graphite_url:
        parts = urlsplit(settings.graphite_url)
        host, port = parts.hostname or "", parts.port or 2003
    elif key:
        host, port = HOSTED_GRAPHITE
    else:
        return None
    prefix = f"{key}.{NAMESPACE}" if key else NAMESPACE
    return host, port, prefix


def metric_path(*parts: str) -> str:
    """Join path parts, replacing characters carbon would misread."""
    return ".".join(_UNSAFE.sub("_", part) for part in parts if part)


def plaintext(prefix: str, values: Mapping[str, float], timestamp: int) -> bytes:
    """Carbon plaintext lines for ``values``; NaN and infinities are left out."""
    lines = [
        f"{metric_path(prefix, name)} {value:g} {timestamp}\n"
        for name, value in values.items()
        if math.isfinite(value)
    ]
    return "".join(lines).encode()


class GraphiteSender:
    """Sends batches of samples to one carbon plaintext listener."""

    def __init__(self, host: str, port: int, prefix: str, timeout: float = 2.0) -> None:
        self.host = host
        self.port = port
        self.prefix = prefix
        self.timeout = timeout

    def send(
        self, values: Mapping[str, float], *, prefix: str = "", timestamp: int | None = None
    ) -> bool:
        """Send ``values`` under ``<prefix of sender>.<prefix>``; False when the push failed."""
        payload = plaintext(metric_path(self.prefix, prefix), values, timestamp or int(time.time()))
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as conn:
                conn.sendall(payload)
        except OSError as exc:
            log.warning("graphite push failed", extra={"error": type(exc).__name__})
            return False
        return True

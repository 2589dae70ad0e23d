"""Metrics of every dyno in one scrape, passed through Redis.

Each dyno keeps its processes' metrics in its own multiprocess folder, and on
Heroku dynos are separate machines; a worker dyno takes no HTTP traffic, so
nothing can scrape it. Instead each worker dyno publishes its merged metrics
to Redis every few seconds with a short expiry, and the web's ``/metrics``
adds every live dyno's samples to its own, each labelled ``dyno="<name>"``.
A dyno that stops publishing drops out when its key expires.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from redis import Redis

#: Seconds a published snapshot stays visible; a few publishing periods.
SNAPSHOT_TTL = 60


def dyno_name() -> str:
    """Heroku's DYNO (``web.1``, ``worker.2``), or the host name elsewhere."""
    return os.environ.get("DYNO") or socket.gethostname()


def _key(prefix: str, dyno: str = "") -> str:
    return f"{prefix}:metrics:dyno:{dyno}"


def publish(redis: Redis, prefix: str, dyno: str, exposition: bytes) -> None:
    """Store this dyno's exposition text for the web dynos to merge."""
    redis.set(_key(prefix, dyno), exposition, ex=SNAPSHOT_TTL)


def published(redis: Redis, prefix: str, *, exclude: str) -> dict[str, str]:
    """Every other live dyno's exposition text, by dyno name."""
    keys = [k for k in redis.scan_iter(match=_key(prefix, "*"), count=100)]
    names = [k.decode().rsplit(":", 1)[1] for k in keys]
    texts = redis.mget(keys) if keys else []
    return {
        name: text.decode()
        for name, text in zip(names, texts, strict=True)
        if text is not None and name != exclude
    }


def merge(local: Iterable[Metric], local_dyno: str, remote: dict[str, str]) -> list[Metric]:
    """Local families plus every remote dyno's samples, each sample labelled with its dyno."""
    families: dict[str, Metric] = {}
    for family in local:
        families[family.name] = _labelled(family, local_dyno)
    for dyno, text in remote.items():
        for family in text_string_to_metric_families(text):
            family = _labelled(family, dyno)
            if family.name in families:
                families[family.name].samples.extend(family.samples)
            else:
                families[family.name] = family
    return list(families.values())


def _labelled(family: Metric, dyno: str) -> Metric:
    copy = Metric(family.name, family.documentation, family.type, family.unit)
    copy.samples = [
        Sample(s.name, {**s.labels, "dyno": dyno}, s.value, s.timestamp, s.exemplar)
        for s in family.samples
    ]
    return copy

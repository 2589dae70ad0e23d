"""Metrics of every dyno in one scrape, passed through Redis.

Each dyno keeps its processes' metrics in its own multiprocess folder, and on
Heroku dynos are separate machines; a worker dyno takes no HTTP traffic, so
nothing can scrape it. Instead each worker dyno publishes its merged metrics
to Redis every few seconds with a short expiry, and the web's ``/metrics``
adds every live dyno's samples to its own, each labelled ``dyno="<name>"``.
A dyno that stops publishing drops out when its key expires.

Dyno names must differ (Settings.dyno_name): the web leaves out the snapshot
published under its own name. Where a web and a worker share one metrics folder
(``make run``), the web's own merge already holds the worker's processes, so a
snapshot is also left out when it was read from the web's own folder.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from redis import Redis

from app.observability import multiproc

#: Seconds a published snapshot stays visible; a few publishing periods.
SNAPSHOT_TTL = 60
#: The first line of a snapshot: the host and folder its files were read from.
_ORIGIN = "# feedqueue-metrics-origin "


def origin() -> str:
    """Where this process's metrics files are: ``<host>:<folder>``."""
    return f"{socket.gethostname()}:{multiproc.folder()}"


def _key(prefix: str, dyno: str = "") -> str:
    return f"{prefix}:metrics:dyno:{dyno}"


def publish(
    redis: Redis, prefix: str, dyno: str, exposition: bytes, *, source: str | None = None
) -> None:
    """Store this dyno's exposition text for the web dynos to merge.

    ``source`` is where the text was read from (default: this process's :func:`origin`).
    """
    header = f"{_ORIGIN}{source or origin()}\n".encode()
    redis.set(_key(prefix, dyno), header + exposition, ex=SNAPSHOT_TTL)


def published(
    redis: Redis, prefix: str, *, exclude: str, source: str | None = None
) -> dict[str, str]:
    """Every other live dyno's exposition text, by dyno name, except the snapshots read
    from the folder at ``source`` (default: this process's :func:`origin`)."""
    own = f"{_ORIGIN}{source or origin()}\n"
    keys = [k for k in redis.scan_iter(match=_key(prefix, "*"), count=100)]
    names = [k.decode().rsplit(":", 1)[1] for k in keys]
    texts = [t.decode() if t is not None else None for t in (redis.mget(keys) if keys else [])]
    return {
        name: text
        for name, text in zip(names, texts, strict=True)
        if text is not None and name != exclude and not text.startswith(own)
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

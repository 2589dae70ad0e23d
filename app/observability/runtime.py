"""Runtime metrics in the shape of Heroku's log-runtime-metrics, logged by each dyno's root process.

Every ``RUNTIME_METRICS_INTERVAL`` seconds (0 turns it off) the gunicorn master
and the worker supervisor log one line for their whole dyno::

    at=info source=web.1 dyno=heroku.<app>.<dyno> sample#load_avg_1m=0.01 ...
      sample#memory_total=123.45MB sample#memory_rss=... sample#memory_quota=512.00MB

- rss is summed over the process tree (root + all descendants) with psutil,
  as proportional set size so pages shared after fork count once;
- cache, swap and page in/out counts come from the cgroup when its files are
  there (v2 ``memory.stat``/``memory.swap.current``, v1 ``memory/memory.stat``),
  else swap from psutil and the rest 0;
- memory_total is rss + swap, what counts against the dyno's quota;
- the quota is DYNO_MEMORY_QUOTA_MB, else the cgroup limit, else 512 MB.

Past 90 % of the quota an ``at=warn`` line follows, so an alert can fire before
the dyno swaps (Heroku's R14). Samples also go to Graphite when configured.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from app.config import Settings
from app.logs import configure_logging, event
from app.observability.graphite import GraphiteSender, graphite_target

log = logging.getLogger("feedqueue.runtime")

MB = 1024 * 1024
DEFAULT_QUOTA_MB = 512.0
WARN_RATIO = 0.9
CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v2 reports "max" (no limit) or a huge number when unlimited.
_NO_LIMIT = 1 << 60


@dataclass(frozen=True)
class Readings:
    """One sample of a dyno: load averages, memory in bytes, page counts."""

    load_avg_1m: float
    load_avg_5m: float
    load_avg_15m: float
    memory_rss: float
    memory_cache: float
    memory_swap: float
    memory_pgpgin: int
    memory_pgpgout: int
    memory_quota: float

    @property
    def memory_total(self) -> float:
        """What counts against the quota: resident plus swapped-out memory."""
        return self.memory_rss + self.memory_swap


@dataclass(frozen=True)
class CgroupMemory:
    """What the cgroup files say; None where a file is missing or unreadable."""

    cache: float | None = None
    swap: float | None = None
    limit: float | None = None
    pgpgin: int | None = None
    pgpgout: int | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(text: str | None) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def _limit(text: str | None) -> float | None:
    if text is None or not text.isdigit() or int(text) >= _NO_LIMIT:
        return None
    return float(text)


def read_cgroup(root: Path = CGROUP_ROOT) -> CgroupMemory:
    """Memory facts of the cgroup at ``root`` (v2 unified layout, else v1)."""
    if (root / "memory.current").exists():
        stat = _stat(_read(root / "memory.stat"))
        swap = _read(root / "memory.swap.current")
        return CgroupMemory(
            cache=float(stat["file"]) if "file" in stat else None,
            swap=float(swap) if swap and swap.isdigit() else None,
            limit=_limit(_read(root / "memory.max")),
            pgpgin=stat.get("pgpgin"),
            pgpgout=stat.get("pgpgout"),
        )
    v1 = root / "memory"
    if (v1 / "memory.stat").exists():
        stat = _stat(_read(v1 / "memory.stat"))
        return CgroupMemory(
            cache=float(stat["cache"]) if "cache" in stat else None,
            swap=float(stat["swap"]) if "swap" in stat else None,
            limit=_limit(_read(v1 / "memory.limit_in_bytes")),
            pgpgin=stat.get("pgpgin"),
            pgpgout=stat.get("pgpgout"),
        )
    return CgroupMemory()


def _tree(root_pid: int) -> list[psutil.Process]:
    root = psutil.Process(root_pid)
    return [root, *root.children(recursive=True)]


def tree_memory(root_pid: int, *, with_swap: bool) -> tuple[float, float]:
    """(resident, swap) summed over ``root_pid`` and its descendants; gone processes count 0.

    Resident memory is the proportional set size where the kernel reports it:
    forked workers share most pages with their parent, and summing plain RSS
    would count those pages once per process (the dyno's cgroup charges them once).
    """
    resident = swap = 0.0
    for proc in _tree(root_pid):
        try:
            full = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        resident += getattr(full, "pss", full.rss)
        if with_swap:
            swap += getattr(full, "swap", 0.0)
    return resident, swap


def quota_bytes(configured_mb: float | None, cgroup: CgroupMemory) -> float:
    """DYNO_MEMORY_QUOTA_MB, else the cgroup's limit, else 512 MB."""
    if configured_mb:
        return configured_mb * MB
    if cgroup.limit:
        return cgroup.limit
    return DEFAULT_QUOTA_MB * MB


def collect(
    root_pid: int, quota_mb: float | None = None, cgroup_root: Path = CGROUP_ROOT
) -> Readings:
    """Take one sample of the dyno whose root process is ``root_pid``."""
    cgroup = read_cgroup(cgroup_root)
    rss, tree_swap = tree_memory(root_pid, with_swap=cgroup.swap is None)
    load1, load5, load15 = os.getloadavg()
    return Readings(
        load_avg_1m=load1,
        load_avg_5m=load5,
        load_avg_15m=load15,
        memory_rss=rss,
        memory_cache=cgroup.cache or 0.0,
        memory_swap=cgroup.swap if cgroup.swap is not None else tree_swap,
        memory_pgpgin=cgroup.pgpgin or 0,
        memory_pgpgout=cgroup.pgpgout or 0,
        memory_quota=quota_bytes(quota_mb, cgroup),
    )


def _mb(value: float) -> str:
    return f"{value / MB:.2f}MB"


def sample_fields(source: str, dyno: str, r: Readings) -> dict[str, object]:
    """The logfmt fields of a sample line, in Heroku's names and units."""
    return {
        "source": source,
        "dyno": dyno,
        "sample#load_avg_1m": f"{r.load_avg_1m:.2f}",
        "sample#load_avg_5m": f"{r.load_avg_5m:.2f}",
        "sample#load_avg_15m": f"{r.load_avg_15m:.2f}",
        "sample#memory_total": _mb(r.memory_total),
        "sample#memory_rss": _mb(r.memory_rss),
        "sample#memory_cache": _mb(r.memory_cache),
        "sample#memory_swap": _mb(r.memory_swap),
        "sample#memory_pgpgin": f"{r.memory_pgpgin}pages",
        "sample#memory_pgpgout": f"{r.memory_pgpgout}pages",
        "sample#memory_quota": _mb(r.memory_quota),
    }


def warning_fields(source: str, dyno: str, r: Readings) -> dict[str, object] | None:
    """Fields of the ``at=warn`` line when memory passed 90 % of the quota, else None."""
    if r.memory_quota <= 0 or r.memory_total < WARN_RATIO * r.memory_quota:
        return None
    return {
        "source": source,
        "dyno": dyno,
        "sample#memory_total": _mb(r.memory_total),
        "sample#memory_quota": _mb(r.memory_quota),
        "memory_percent": round(100 * r.memory_total / r.memory_quota, 1),
    }


def graphite_values(r: Readings) -> dict[str, float]:
    """The sample as Graphite metric names and plain numbers (memory in MB)."""
    return {
        "load_avg_1m": r.load_avg_1m,
        "load_avg_5m": r.load_avg_5m,
        "load_avg_15m": r.load_avg_15m,
        "memory_total": r.memory_total / MB,
        "memory_rss": r.memory_rss / MB,
        "memory_cache": r.memory_cache / MB,
        "memory_swap": r.memory_swap / MB,
        "memory_pgpgin": r.memory_pgpgin,
        "memory_pgpgout": r.memory_pgpgout,
        "memory_quota": r.memory_quota / MB,
    }


def report(
    source: str, dyno: str, readings: Readings, graphite: GraphiteSender | None = None
) -> None:
    """Log the sample line (and the warning line, if due); push it to Graphite if configured."""
    event(log, logging.INFO, **sample_fields(source, dyno, readings))
    warning = warning_fields(source, dyno, readings)
    if warning is not None:
        log.warning("memory above 90% of quota", extra=warning)
    if graphite is not None:
        graphite.send(graphite_values(readings), prefix=source)


def dyno_id(settings: Settings) -> str:
    """Heroku's ``heroku.<app id>.<dyno id>`` when dyno metadata is on, else the host name."""
    if settings.heroku_app_id and settings.heroku_dyno_id:
        return f"heroku.{settings.heroku_app_id}.{settings.heroku_dyno_id}"
    return f"local.{socket.gethostname()}"


def start_runtime_metrics(source: str, root_pid: int, settings: Settings | None = None) -> None:
    """Log this dyno's runtime metrics from a daemon thread until the process exits.

    ``source`` is the process type (``web``, ``worker``); Heroku's ``DYNO``
    (``web.1``) replaces it when set. Call in the dyno's root process: the
    gunicorn master (``when_ready``) or the worker supervisor. The thread only
    reads /proc and the cgroup, logs and sends; it never touches Prometheus
    values, whose lock must not be held across the root's forks.
    """
    settings = settings or Settings.from_env()
    interval = settings.runtime_metrics_interval
    if interval <= 0:
        return
    if not logging.getLogger().handlers:
        # The gunicorn master never builds the app, so nothing set logging up there.
        configure_logging(settings.log_level)
    name = settings.dyno or source
    target = graphite_target(settings)
    sender = GraphiteSender(*target) if target else None
    thread = threading.Thread(
        target=_run,
        args=(name, dyno_id(settings), root_pid, settings.dyno_memory_quota_mb, interval, sender),
        name="runtime-metrics",
        daemon=True,
    )
    thread.start()


def _run(
    source: str,
    dyno: str,
    root_pid: int,
    quota_mb: float | None,
    interval: float,
    sender: GraphiteSender | None,
) -> None:
    next_at = time.monotonic()
    while True:
        next_at += interval
        try:
            report(source, dyno, collect(root_pid, quota_mb), sender)
        except psutil.NoSuchProcess:
            return  # the root is gone: nothing left to measure
        except Exception:
            log.exception("runtime metrics sample failed")
        time.sleep(max(0.0, next_at - time.monotonic()))

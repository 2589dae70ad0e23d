"""Where Prometheus' multiprocess files live, and clean-up when a process dies.

Both dynos run several processes (gunicorn master + workers; the worker
supervisor + forked RQ workers), so metrics use prometheus_client's
multiprocess mode: every process writes its own mmap files into one folder,
and a scrape merges them.

The folder is ``PROMETHEUS_MULTIPROC_DIR`` when set (a shared folder lets a
local web and worker, or tests, appear in one scrape). When unset, the first
process of a dyno to import :mod:`app.observability` creates a fresh per-dyno
temporary folder and sets the variable, so every process it forks or spawns
inherits it. A fresh folder per boot means no stale files from an earlier run;
a configured folder is never wiped (other live processes may be using it).
Folders of per-dyno runs whose creator is gone (killed before its clean-up)
are swept when a new one is made.
prometheus_client reads the variable once, at import, so this must run first.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import psutil

from app.config import read_setting

log = logging.getLogger(__name__)

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
# Per-dyno folders are <tmp>/feedqueue-metrics-<creator pid>-<random>.
PREFIX = "feedqueue-metrics-"
_folder: str | None = None


def ensure_multiproc_dir() -> str:
    """Return the multiprocess folder, creating a per-dyno one when none is configured."""
    path = read_setting("prometheus_multiproc_dir")
    if path:
        os.makedirs(path, exist_ok=True)
    else:
        sweep_orphans(tempfile.gettempdir())
        path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        os.environ[ENV_VAR] = path
        _remove_at_exit(path, os.getpid())
    global _folder
    _folder = str(path)
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        # Something imported prometheus_client first: metrics of this process
        # would stay in memory and never reach a scrape.
        log.warning("prometheus_client was imported before %s was set", ENV_VAR)
    return path


def folder() -> str:
    """The multiprocess folder of this process (ensure_multiproc_dir has chosen it)."""
    assert _folder is not None, "app.observability was not imported"
    return _folder


def sweep_orphans(parent: str) -> None:
    """Remove folders left by dynos that were killed (SIGKILL skips atexit)."""
    for entry in Path(parent).glob(f"{PREFIX}*"):
        owner = entry.name[len(PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            shutil.rmtree(entry, ignore_errors=True)


def _remove_at_exit(path: str, owner: int) -> None:
    def remove() -> None:
        # Forked children inherit atexit handlers; only the creator removes.
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)


def process_dead(pid: int) -> None:
    """Drop the live gauges of a process that exited (gunicorn child_exit, supervisor)."""
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(pid)
    except OSError:
        log.warning("could not remove metrics files of dead process %d", pid)

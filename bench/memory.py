"""Resident memory of the processes under test, sampled with psutil while a scenario runs."""

from __future__ import annotations

import threading

import psutil

from bench.stack import Proc

MIB = 2**20


def snapshot(proc: Proc) -> dict[str, float]:
    """RSS in MiB of each process of ``proc``'s tree, keyed ``<role>-<pid>``."""
    out: dict[str, float] = {}
    for i, p in enumerate(proc.tree()):
        try:
            role = "parent" if i == 0 else "child"
            out[f"{role}-{p.pid}"] = round(p.memory_info().rss / MIB, 1)
        except psutil.NoSuchProcess:
            continue
    return out


class Sampler:
    """Samples process trees every ``every`` seconds; keeps each process's peak RSS."""

    def __init__(self, procs: dict[str, Proc], every: float = 0.5) -> None:
        self.procs = procs
        self.every = every
        self.peaks: dict[str, dict[str, float]] = {name: {} for name in procs}
        self.peak_total: dict[str, float] = {name: 0.0 for name in procs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, proc in self.procs.items():
                snap = snapshot(proc)
                peaks = self.peaks[name]
                for key, rss in snap.items():
                    peaks[key] = max(peaks.get(key, 0.0), rss)
                self.peak_total[name] = max(self.peak_total[name], round(sum(snap.values()), 1))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

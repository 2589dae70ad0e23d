"""``PIN_CPUS=auto``: whether this machine's cores are the process's own, read from the OS.

Pinning each process to a core pays where the cores are ours (app/affinity.py)
and hurts where something else shares them: a pinned process cannot move away
from a core a neighbour keeps busy. Nothing in the environment says which case
this is, so ``auto`` reads what the kernel shows and pins only when every check
says the cores are ours:

- at least two CPUs may be used (one leaves nothing to choose);
- the process may use every online CPU: a narrower mask means a cpuset or
  ``taskset`` already placed it, and that placement is kept;
- no CFS quota on the process's CPU cgroup or any parent (cgroup v1
  ``cpu.cfs_quota_us`` of -1, v2 ``cpu.max`` of ``max``): a quota means the
  container gets a slice of the machine's time, spread over all its cores;
- a default CPU weight (v1 ``cpu.shares`` 1024, v2 ``cpu.weight`` 100): another
  weight means the machine's time is divided between groups by share, as
  Heroku's Eco, Basic and Standard dynos divide their shared instance ("CPU
  share 1x, 2x"; their processes see all of the instance's cores);
- little steal time over a short sample of ``/proc/stat`` (at most 5 %): a
  hypervisor giving these virtual CPUs' time to other guests.

Where the checks pass wrongly, the pinned process still watches its core
(:mod:`app.affinity_watch`) and gives the pin up when others saturate it while
another core idles. Every function takes ``root`` (``/`` by default) so tests
feed it the files of other machines.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

#: Steal time (share of all CPU time in the sample) above which the CPUs are not ours.
MAX_STEAL = 0.05
#: How long the start-up sample of /proc/stat lasts.
STEAL_SAMPLE_SECONDS = 0.2

_V1_DEFAULT_SHARES = 1024
_V2_DEFAULT_WEIGHT = 100


@dataclass(frozen=True)
class Placement:
    """The decision for ``PIN_CPUS=auto`` and the reason, for the start-up log line."""

    pin: bool
    reason: str

    def summary(self, process: str) -> str:
        """One log line: what the ``process`` does with its CPUs, and why."""
        verb = "pins each process to a core" if self.pin else "leaves CPU placement to the kernel"
        return f"{process}: {verb}: {self.reason}"


def parse_cpu_list(text: str) -> set[int]:
    """CPUs of a kernel CPU list such as ``0-3,8,10-11``."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def online_cpus(root: Path = Path("/")) -> set[int] | None:
    """The machine's online CPUs, or None where the kernel does not say."""
    try:
        return parse_cpu_list((root / "sys/devices/system/cpu/online").read_text())
    except (OSError, ValueError):
        return None


def _cgroup_paths(root: Path) -> tuple[str | None, str | None]:
    """This process's CPU cgroup: (v1 path of the ``cpu`` controller, v2 path)."""
    v1 = v2 = None
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v1, v2


def _dirs_up(base: Path, path: str) -> list[Path]:
    """``base/path`` and each of its parents up to ``base``, those that exist.

    Inside a container the cgroup path may name the host's hierarchy while the
    container sees its own group mounted at ``base``; both are looked at.
    """
    parts = [p for p in path.split("/") if p]
    dirs = [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return [d for d in dirs if d.is_dir()]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_limit(root: Path = Path("/")) -> str | None:
    """Why the CPU cgroup divides this machine's time (a quota or a weight); None if not."""
    v1, v2 = _cgroup_paths(root)
    if v1 is not None:
        for name in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
            for d in _dirs_up(root / "sys/fs/cgroup" / name, v1):
                quota = _read(d / "cpu.cfs_quota_us")
                if quota not in (None, "-1"):
                    return f"a CPU quota in its cgroup (cpu.cfs_quota_us {quota})"
                shares = _read(d / "cpu.shares")
                if d != root / "sys/fs/cgroup" / name and shares not in (
                    None,
                    str(_V1_DEFAULT_SHARES),
                ):
                    return f"a CPU share in its cgroup (cpu.shares {shares})"
    if v2 is not None:
        for d in _dirs_up(root / "sys/fs/cgroup", v2):
            limit = _read(d / "cpu.max")
            if limit is not None and limit.split()[0] != "max":
                return f"a CPU quota in its cgroup (cpu.max {limit})"
            weight = _read(d / "cpu.weight")
            if weight not in (None, str(_V2_DEFAULT_WEIGHT)):
                return f"a CPU weight in its cgroup (cpu.weight {weight})"
    return None


def steal_share(before: str, after: str) -> float | None:
    """Steal time's share of all CPU time between two readings of ``/proc/stat``."""

    def totals(text: str) -> tuple[int, int] | None:
        for line in text.splitlines():
            fields = line.split()
            if fields and fields[0] == "cpu":
                # user nice system idle iowait irq softirq steal (guest time is in user)
                values = [int(v) for v in fields[1:9]]
                steal = values[7] if len(values) > 7 else 0
                return sum(values), steal
        return None

    first, second = totals(before), totals(after)
    if first is None or second is None or second[0] <= first[0]:
        return None
    return (second[1] - first[1]) / (second[0] - first[0])


def sample_steal(root: Path = Path("/"), seconds: float = STEAL_SAMPLE_SECONDS) -> float | None:
    """Steal time's share over ``seconds`` of this machine's ``/proc/stat``."""
    stat = root / "proc/stat"
    try:
        before = stat.read_text()
        time.sleep(seconds)
        return steal_share(before, stat.read_text())
    except OSError:
        return None


def resolve(setting: bool | str, allowed: Collection[int], root: Path = Path("/")) -> Placement:
    """The placement for a ``PIN_CPUS`` value: ``true`` and ``false`` as said, ``auto`` read
    from the OS (:func:`decide`, with a steal sample of :data:`STEAL_SAMPLE_SECONDS`)."""
    if setting is True:
        return Placement(True, "PIN_CPUS=true")
    if setting is False:
        return Placement(False, "PIN_CPUS=false")
    return decide(allowed, root, sample_steal(root))


def decide(
    allowed: Collection[int],
    root: Path = Path("/"),
    steal: float | None = None,
) -> Placement:
    """Pin or not, for ``PIN_CPUS=auto``: the checks of the module's docstring, in order.

    ``allowed`` is the process's affinity mask; ``steal`` the sampled steal share
    (:func:`sample_steal`), None where it could not be read.
    """
    cpus = sorted(allowed)
    if len(cpus) < 2:
        return Placement(False, f"only CPU {cpus} may be used")
    online = online_cpus(root)
    if online is not None and set(cpus) != online:
        return Placement(
            False, f"the process may use CPUs {cpus} of {sorted(online)}: a placement kept as set"
        )
    limit = cgroup_limit(root)
    if limit:
        return Placement(False, f"{limit}: the machine's time is shared with others")
    if steal is not None and steal > MAX_STEAL:
        return Placement(False, f"{steal:.0%} steal time: the hypervisor shares these CPUs")
    shown = "unknown" if steal is None else f"{steal:.1%}"
    return Placement(
        True,
        f"{len(cpus)} CPUs, all online ones allowed, no CPU quota or share in its cgroup, "
        f"steal time {shown}",
    )

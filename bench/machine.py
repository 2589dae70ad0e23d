"""What the numbers were measured on: CPU, cores, RAM, kernel, Python, package versions."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata

import psutil

from app.affinity import allowed_cpus
from app.placement import resolve
from bench.parse_cost import core_speed
from bench.stack import Services

#: The machine table's key for the cores' speed (bench.parse_cost.core_speed).
CORE_SPEED = "core speed (feedparser docs/s, one core)"

PACKAGES = (
    "Flask",
    "gunicorn",
    "rq",
    "redis",
    "SQLAlchemy",
    "psycopg2-binary",
    "feedparser",
    "requests",
    "nh3",
    "psutil",
    "matplotlib",
    "py-spy",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def _server_versions(services: Services) -> dict[str, str]:
    """The versions of the Postgres and Redis servers the run uses (asked, not guessed
    from a binary on PATH, which may be another installation)."""
    import redis

    conn = services.connect_db()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            postgres = str(cur.fetchone()[0]).split(" on ")[0]  # type: ignore[index]
    finally:
        conn.close()
    client = redis.Redis.from_url(services.redis_url)
    try:
        info = client.info("server")
    finally:
        client.close()
    return {
        "postgres": postgres,
        "redis": f"Redis {info['redis_version']}",
    }


def _placement() -> str:
    """What the default PIN_CPUS=auto decides on this machine, and why (app.placement)."""
    decision = resolve("auto", allowed_cpus())
    return ("pins each process to a core" if decision.pin else "kernel places") + (
        f": {decision.reason}"
    )


def box_busy() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def describe(services: Services) -> dict[str, object]:
    """A dict of the machine and software the run used."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": _cpu_model(),
        "cores": psutil.cpu_count(logical=True),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        **_server_versions(services),
        "wrk": _version(["wrk", "--version"]),
        "placement (PIN_CPUS=auto)": _placement(),
        CORE_SPEED: core_speed(),
        "packages": versions,
    }

"""Real app processes for tests: a web dyno (gunicorn) and a worker dyno (worker.py).

Both start in their own process group, like a dyno, so a test can signal the
whole group the way Heroku does. Web dynos bind loopback only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, *args: str, own_session: bool = False) -> str:
    """Run ``code`` in a fresh Python in the project folder; its output.

    For what a test cannot undo in its own process (a lower priority, a narrower
    set of CPUs).
    """
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=own_session,
    ).stdout


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Dyno:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def _start(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def children(self) -> list[psutil.Process]:
        """The dyno's processes below its first one (gunicorn's or worker.py's children)."""
        return psutil.Process(self.proc.pid).children()

    def cpus_by_process(self) -> dict[int, list[tuple[int, ...]]]:
        """The dyno's processes (pid: the distinct CPU sets of their threads), the
        dyno's first process first (gunicorn's master, worker.py's supervisor)."""
        found: dict[int, list[tuple[int, ...]]] = {}
        for proc in [psutil.Process(self.proc.pid), *self.children()]:
            sets = set()
            for thread in proc.threads():
                try:
                    sets.add(tuple(sorted(os.sched_getaffinity(thread.id))))
                except ProcessLookupError:  # a thread that has just ended
                    continue
            found[proc.pid] = sorted(sets)
        return found

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def terminate(self, timeout: float = 40) -> int:
        """SIGTERM the whole process group (as Heroku does) and wait."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL the whole process group: a crashed dyno."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()


class WorkerDyno(_Dyno):
    """A running ``python worker.py`` (supervisor and children), like a worker dyno."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2) -> None:
        self._start([sys.executable, "worker.py", "--concurrency", str(concurrency)], env, log_path)


class WebDyno(_Dyno):
    """gunicorn serving the app with the repository's gunicorn.conf.py, on loopback."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._start(
            [
                sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                # Loopback only, whatever the config file binds to.
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                "app:create_app()",
            ],
            {**env, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)},
            log_path,
        )  # fmt: skip

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.base_url + path, timeout=5, **kwargs)  # type: ignore[arg-type]

    def warmed_up(self) -> int:
        """How many of its workers have logged their warm-up (gunicorn.conf.py)."""
        return self.output().count("] warmed up in ")

    def healthy(self) -> bool:
        """True once /healthz answers; raises if gunicorn died."""
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{self.output()}")
        try:
            return self.get("/healthz").status_code == 200
        except requests.RequestException:
            return False

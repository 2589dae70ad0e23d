"""Re-lock the dependencies (`make lock`): every package of each tree pinned, with its hashes.

requirements.txt is the runtime lock (what Heroku's buildpack installs), compiled from
requirements.in; requirements-dev.txt is the development lock (what `make` installs),
compiled from requirements-dev.in under the constraint of requirements.txt, so the two
pin every runtime package alike. uv (pinned in requirements-dev.in) resolves for the
Python of .python-version on every platform, and keeps the pins already in a lock unless
its input file asks for something else; pass `--upgrade` (or `--upgrade-package NAME`) to
move them: `make lock LOCK_ARGS=--upgrade`.

Each lock starts with `--require-hashes`, so a plain `pip install -r` of it (the
buildpack's command) refuses any package without a matching hash, even one added by hand.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = (
    ("requirements.in", "requirements.txt"),
    ("requirements-dev.in", "requirements-dev.txt"),
)
REQUIRE_HASHES = "--require-hashes"


def python_version() -> str:
    """The Python the app runs on (the single version line of .python-version)."""
    lines = (ROOT / ".python-version").read_text().splitlines()
    versions = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if len(versions) != 1:
        raise SystemExit(".python-version must hold exactly one version")
    return versions[0]


def compile_lock(source: str, output: str, extra: list[str]) -> None:
    """Resolve ``source`` into the hashed lock ``output`` with the venv's uv."""
    subprocess.run(
        [
            sys.executable, "-m", "uv", "pip", "compile", source, "--output-file", output,
            "--generate-hashes", "--universal", "--python-version", python_version(),
            "--custom-compile-command", "make lock", "--quiet", *extra,
        ],
        cwd=ROOT,
        check=True,
    )  # fmt: skip


def require_hashes(path: Path) -> None:
    """Put ``--require-hashes`` right after the lock's header comment (uv drops it)."""
    lines = path.read_text().splitlines(keepends=True)
    if REQUIRE_HASHES + "\n" in lines:
        return
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(header, REQUIRE_HASHES + "\n")
    path.write_text("".join(lines))


def main(extra: list[str]) -> None:
    for source, output in LOCKS:
        compile_lock(source, output, extra)
        require_hashes(ROOT / output)
        print(f"locked {output} from {source}")


if __name__ == "__main__":
    main(sys.argv[1:])

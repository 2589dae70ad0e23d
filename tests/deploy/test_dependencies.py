"""The dependency locks: every package pinned with hashes, complete for the installed
environment, consistent with their input files and with each other, and installed in
hash-checking mode by `make` (so `.ci/run`), Heroku CI and Heroku's buildpack alike."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
# The first urllib3 whose streaming reads (the fetcher's raw.read1) can no longer be made
# to inflate a whole decompression bomb; 2.6.0 and 2.6.3 fixed the first cases.
URLLIB3_FLOOR = Version("2.7.0")
# The heroku/python buildpack's install step, less its output-only flags.
BUILDPACK_INSTALL = "pip install -r requirements.txt --exists-action=w --no-cache-dir --no-input"


@dataclass(frozen=True)
class Pin:
    """One requirement of a lock file."""

    name: NormalizedName
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self) -> bool:
        """True when the requirement's marker holds on this Python and platform."""
        return self.marker is None or self.marker.evaluate()


def read_lock(path: Path) -> tuple[list[str], list[Pin]]:
    """The option lines and the requirements of a pip requirements file."""
    options: list[str] = []
    pins: list[Pin] = []
    for line in path.read_text().replace("\\\n", " ").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if text.startswith("-"):
            options.append(text)
            continue
        requirement = Requirement(text.split(" --hash=", 1)[0])
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {text[:80]}"
        hashes = tuple(re.findall(r"--hash=(\S+)", text))
        pins.append(
            Pin(canonicalize_name(requirement.name), specs[0].version, requirement.marker, hashes)
        )
    return options, pins


def applicable(path: Path) -> dict[NormalizedName, Pin]:
    """The pins of a lock that apply here, by name (a universal lock may fork by marker)."""
    found: dict[NormalizedName, Pin] = {}
    for pin in read_lock(path)[1]:
        if pin.applies():
            assert pin.name not in found, f"{path.name}: two pins of {pin.name} apply here"
            found[pin.name] = pin
    return found


def input_requirements(path: Path) -> Iterator[Requirement]:
    """The requirements of a hand-edited input file, following its ``-r`` includes."""
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text.startswith("-r "):
            yield from input_requirements(path.parent / text[3:].strip())
        elif text and not text.startswith("-"):
            yield Requirement(text)


def installed_tree(roots: Iterable[Requirement]) -> dict[NormalizedName, str]:
    """Every installed distribution the roots need, with extras and markers, by version."""
    found: dict[NormalizedName, str] = {}
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    todo = [(root, frozenset(root.extras)) for root in roots if _needed(root, frozenset())]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{name} is needed but not installed") from None
        found[name] = dist.version
        for spec in dist.requires or []:
            child = Requirement(spec)
            if _needed(child, extras):
                todo.append((child, frozenset(child.extras)))
    return found


def _needed(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras})


# -- the lock files ------------------------------------------------------------


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_locked_package_is_pinned_with_sha256_hashes(lock: Path) -> None:
    _options, pins = read_lock(lock)
    assert pins
    for pin in pins:
        assert pin.hashes, f"{lock.name}: {pin.name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), pin.name


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_each_lock_puts_pip_in_require_hashes_mode_and_names_no_index(lock: Path) -> None:
    # Any other option (an index, find-links, an include) would change where pip looks.
    assert read_lock(lock)[0] == ["--require-hashes"]


@pytest.mark.parametrize(
    ("lock", "source"),
    [(RUNTIME_LOCK, "requirements.in"), (DEV_LOCK, "requirements-dev.in")],
    ids=["runtime", "dev"],
)
def test_the_lock_is_complete_for_the_installed_environment(lock: Path, source: str) -> None:
    pins = applicable(lock)
    for name, version in installed_tree(input_requirements(ROOT / source)).items():
        assert name in pins, f"{name} {version} is installed for {source} but not in {lock.name}"
        assert pins[name].version == version, (
            f"{name}: {version} installed, {lock.name} pins {pins[name].version}: run `make`"
        )


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_locked_package_that_applies_here_is_installed_at_its_pin(lock: Path) -> None:
    for name, pin in applicable(lock).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{name} is in {lock.name} but not installed") from None
        assert installed == pin.version, name


@pytest.mark.parametrize(
    ("lock", "source"),
    [(RUNTIME_LOCK, "requirements.in"), (DEV_LOCK, "requirements-dev.in")],
    ids=["runtime", "dev"],
)
def test_the_lock_satisfies_its_input_file(lock: Path, source: str) -> None:
    # Catches an input file edited without `make lock`.
    pins = applicable(lock)
    for requirement in input_requirements(ROOT / source):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in {source} but not in {lock.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name].version, prereleases=True), (
            f"{lock.name} pins {name} {pins[name].version}, {source} asks for "
            f"{requirement.specifier}: run `make lock`"
        )


def test_both_locks_pin_every_runtime_package_alike() -> None:
    runtime = {(p.name, p.marker and str(p.marker)): p for p in read_lock(RUNTIME_LOCK)[1]}
    dev = {(p.name, p.marker and str(p.marker)): p for p in read_lock(DEV_LOCK)[1]}
    assert runtime.keys() <= dev.keys(), runtime.keys() - dev.keys()
    for key, pin in runtime.items():
        assert (dev[key].version, set(dev[key].hashes)) == (pin.version, set(pin.hashes)), key


def test_urllib3_is_locked_at_a_release_with_the_decompression_bomb_fixes() -> None:
    floor = next(
        r.specifier
        for r in input_requirements(ROOT / "requirements.in")
        if canonicalize_name(r.name) == "urllib3"
    )
    assert not floor.contains("2.6.3")  # the input keeps the floor, whatever requests allows
    assert Version(applicable(RUNTIME_LOCK)["urllib3"].version) >= URLLIB3_FLOOR
    assert Version(metadata.version("urllib3")) >= URLLIB3_FLOOR


def test_the_lock_tool_is_pinned_in_the_dev_lock() -> None:
    assert any(r.name == "uv" and str(r.specifier).startswith("==") for r in
               input_requirements(ROOT / "requirements-dev.in"))  # fmt: skip
    assert "uv" in applicable(DEV_LOCK)
    assert "uv" not in applicable(RUNTIME_LOCK)  # a build tool, not shipped to the dynos


# -- who installs them, and how -------------------------------------------------


def _pip_installs(commands: Iterable[str]) -> list[list[str]]:
    """The argument lists of every `pip install` among shell command lines."""
    found = []
    for command in commands:
        for part in re.split(r"&&|;|\|\|", command):
            words = shlex.split(part)
            for i in range(len(words) - 1):
                if words[i].endswith("pip") and words[i + 1] == "install":
                    found.append(words[i + 2 :])
    return found


def test_make_installs_the_dev_lock_in_require_hashes_mode(tmp_path: Path) -> None:
    # What `make test` (and so .ci/run) would run in a fresh clone, printed, not run.
    stamp = f"{tmp_path}/venv/.installed"
    dry = subprocess.run(
        ["make", "-n", "-B", f"VENV={tmp_path}/venv", stamp, "test"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    installs = _pip_installs(dry.stdout.splitlines())
    assert installs == [["--quiet", "--require-hashes", "-r", "requirements-dev.txt"]]


def test_ci_installs_only_through_make() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, re.MULTILINE)
    assert not _pip_installs(script.splitlines())


def test_heroku_ci_installs_the_dev_lock_in_require_hashes_mode() -> None:
    scripts = json.loads((ROOT / "app.json").read_text())["environments"]["test"]["scripts"]
    installs = _pip_installs(scripts.values())
    assert installs and all("--require-hashes" in args for args in installs)
    assert all(args[args.index("-r") + 1] == "requirements-dev.txt" for args in installs)


def _wheel(folder: Path) -> tuple[Path, str]:
    """A minimal wheel built here, and its sha256: pip can install it with no index."""
    path = folder / "feedqueue_probe-1.0-py3-none-any.whl"
    info = "feedqueue_probe-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: feedqueue-probe\n"
                       "Version: 1.0\n")  # fmt: skip
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\n"
                       "Root-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        wheel.writestr(f"{info}/RECORD", "")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("with_hash", [False, True], ids=["unhashed", "hashed"])
def test_the_buildpacks_plain_install_of_our_lock_refuses_an_unhashed_package(
    tmp_path: Path, with_hash: bool
) -> None:
    # The buildpack passes no hash flag: the lock's own options must switch hash checking
    # on. Same options, one package added (built here, so pip needs no index).
    wheel, digest = _wheel(tmp_path)
    options, _pins = read_lock(RUNTIME_LOCK)
    line = "feedqueue-probe==1.0" + (f" --hash=sha256:{digest}" if with_hash else "")
    (tmp_path / "requirements.txt").write_text("\n".join([*options, line, ""]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    result = subprocess.run(
        [sys.executable, "-m", *shlex.split(BUILDPACK_INSTALL), "--dry-run", "--no-index",
         "--find-links", str(wheel.parent), "--ignore-installed"],
        cwd=tmp_path, env={**env, "PIP_CONFIG_FILE": os.devnull},
        capture_output=True, text=True,
    )  # fmt: skip
    if with_hash:
        assert result.returncode == 0, result.stderr
        assert "Would install feedqueue-probe-1.0" in result.stdout
    else:
        assert result.returncode != 0
        assert "Hashes are required in --require-hashes mode" in result.stderr

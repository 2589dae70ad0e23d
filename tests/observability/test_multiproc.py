"""The per-dyno metrics folder: made when unset, swept when its creator is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.observability.multiproc import PREFIX, sweep_orphans
from tests.conftest import ROOT


def test_folders_of_dead_creators_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = tmp_path / f"{PREFIX}{dead.stdout.strip()}-abc"
    live = tmp_path / f"{PREFIX}{os.getpid()}-def"
    configured = tmp_path / "my-metrics"
    for folder in (orphan, live, configured):
        folder.mkdir()
    sweep_orphans(str(tmp_path))
    assert not orphan.exists()
    assert live.exists() and configured.exists()


def test_an_unset_folder_is_created_for_the_process_and_removed_at_exit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp_path)
    code = (
        "import os, app.observability.metrics as m\n"
        "m.ITEMS_NEW.inc()\n"
        "folder = os.environ['PROMETHEUS_MULTIPROC_DIR']\n"
        "print(folder)\n"
        "print(sorted(os.listdir(folder)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    out = result.stdout.splitlines()
    folder = Path(out[0])
    assert folder.parent == tmp_path and folder.name.startswith(PREFIX)
    assert "counter_" in out[1]  # the counter went to a file in that folder
    assert not folder.exists()

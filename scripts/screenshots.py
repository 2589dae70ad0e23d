"""Refresh the screenshots in docs/screenshots/ from a real browser run.

The browser tests drive the real app (gunicorn, a worker dyno, a loopback
feed server) in Chromium; with FEEDQUEUE_DOCS_SCREENSHOTS set they also save
the pages the docs show: home.png, feed-fetching.png (mid-fetch), status.png.

    python -m scripts.screenshots
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "screenshots"
TESTS = [
    "tests/browser/test_pages_in_browser.py::"
    "test_submitted_feed_shows_progress_then_items_without_reload",
    "tests/browser/test_pages_in_browser.py::test_every_page_renders_without_browser_errors",
]


def main() -> int:
    """Run the browser tests that take the docs' screenshots; returns pytest's exit code."""
    env = {**os.environ, "FEEDQUEUE_DOCS_SCREENSHOTS": str(TARGET)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT, env=env
    )
    if result.returncode == 0:
        for name in ("home", "feed-fetching", "status"):
            print(TARGET / f"{name}.png")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())

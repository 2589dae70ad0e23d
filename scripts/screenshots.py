"""Refresh the screenshots in docs/screenshots/ from a real browser run.

The browser tests drive the real app (gunicorn, a worker dyno, a loopback
feed server) in Chromium; with FEEDQUEUE_DOCS_SCREENSHOTS set they also save
the pages the docs show: home.png (the feed list), feed-fetching.png (mid-fetch),
status.png, and the reader: river.png, river-dark.png, river-phone.png, search.png.

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
    "tests/browser/test_river_in_browser.py::"
    "test_j_and_k_move_through_the_river_and_opened_items_count_as_read",
    "tests/browser/test_river_in_browser.py::"
    "test_the_dark_scheme_applies_when_the_system_prefers_it",
    "tests/browser/test_river_in_browser.py::"
    "test_a_phone_sized_screen_gets_one_column_with_the_pane_below",
    "tests/browser/test_river_in_browser.py::"
    "test_search_shows_ranked_hits_with_the_words_highlighted",
]
NAMES = ("home", "feed-fetching", "status", "river", "river-dark", "river-phone", "search")


def main() -> int:
    """Run the browser tests that take the docs' screenshots; returns pytest's exit code."""
    env = {**os.environ, "FEEDQUEUE_DOCS_SCREENSHOTS": str(TARGET)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT, env=env
    )
    if result.returncode == 0:
        for name in NAMES:
            print(TARGET / f"{name}.png")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())

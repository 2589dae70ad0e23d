"""URLs of the app's static files, each with a hash of its content."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import current_app, url_for


@cache
def _asset_digest(path: Path, _mtime: float) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """URL of a static file with a content hash, so browsers may cache it for long."""
    folder = Path(current_app.static_folder or "")
    path = folder / filename
    try:
        version = _asset_digest(path, path.stat().st_mtime)
    except OSError:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=version)

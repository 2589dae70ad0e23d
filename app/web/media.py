"""How an item's enclosures are shown: a player or a download link, with type and size.

The pipeline stored only clean values (app.pipeline.enclosures); they are checked again
here, where they meet the page and the API, so a row written by anything else still
cannot put a ``javascript:`` or ``data:`` URL into a ``src`` or ``href``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask

MAX_URL_LENGTH = 2048
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\"<>\\`]")
MAX_SHOWN = 8


@dataclass(frozen=True)
class Enclosure:
    """One enclosure as pages and the API show it."""

    url: str
    type: str | None
    length: int | None

    @property
    def kind(self) -> str:
        """ "audio", "video" or "file": which player the reading pane shows."""
        major = (self.type or "").split("/", 1)[0]
        return major if major in ("audio", "video") else "file"

    @property
    def name(self) -> str:
        """The file's name, from the last part of its URL's path."""
        path = urlsplit(self.url).path.rstrip("/")
        return path.rsplit("/", 1)[-1][:120] or urlsplit(self.url).hostname or self.url[:120]

    @property
    def size(self) -> str | None:
        """The declared size for people: "48.2 MB", "730 KB", "512 bytes"."""
        return human_size(self.length) if self.length else None

    def as_json(self) -> dict[str, object]:
        """The API's shape: url, type (MIME or null), length (bytes or null)."""
        return {"url": self.url, "type": self.type, "length": self.length}


def human_size(size: int) -> str:
    """Decimal units, as players and file managers show a download's size."""
    for unit, name in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if size >= unit:
            return f"{size / unit:.1f} {name}"
    return f"{size} bytes"


def _safe_url(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or _BAD_CHARS.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def enclosures_of(stored: Iterable[object] | None) -> list[Enclosure]:
    """The stored enclosures (``[{"url", "type", "length"}]``) that are safe to show."""
    shown: list[Enclosure] = []
    for value in stored or ():
        if not isinstance(value, dict):
            continue
        url = _safe_url(value.get("url"))
        if url is None:
            continue
        kind = value.get("type")
        length = value.get("length")
        shown.append(
            Enclosure(
                url=url,
                type=kind if isinstance(kind, str) and _MIME.match(kind) else None,
                length=length
                if isinstance(length, int) and not isinstance(length, bool) and length > 0
                else None,
            )
        )
        if len(shown) >= MAX_SHOWN:
            break
    return shown


def enclosures_json(stored: Iterable[object] | None) -> list[dict[str, object]]:
    """The enclosures of an item as the JSON API sends them (``[]`` when none)."""
    return [enclosure.as_json() for enclosure in enclosures_of(stored)]


def init_app(app: Flask) -> None:
    """Make ``enclosures_of`` available to templates (the reading pane)."""
    app.jinja_env.globals["enclosures_of"] = enclosures_of

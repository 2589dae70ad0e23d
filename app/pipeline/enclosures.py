"""Enclosures: the files an item carries (podcast audio, video), from every feed format.

RSS ``<enclosure>`` and Atom ``<link rel="enclosure">`` reach us as feedparser's
``enclosures``; Media RSS ``<media:content>`` as its ``media_content``; JSON Feed
``attachments`` are read by jsonfeed.py through :func:`enclosure_of`. Whatever the
source, a feed's values are untrusted: only absolute http(s) URLs without spaces or
control characters are kept (the reading pane puts them in ``src`` and ``href``), a
MIME type must look like one, and a length must be a believable byte count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from .items import MAX_URL_LENGTH
from .models import Enclosure

#: Enclosures kept per item. A podcast episode carries one; a Media RSS group lists a
#: few renditions of the same video. A hostile feed could list thousands, each one
#: stored in the item's row and sent with every page of the river.
MAX_ENCLOSURES = 8
#: Larger declared lengths are not believed (a 1 TiB episode is a typo or a lie).
MAX_LENGTH = 2**40
# type/subtype, without parameters (RFC 6838 restricted names), lower case.
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_HTTP = ("http", "https")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\"<>\\`]")
#: The type of a file whose feed gives none, by its extension: what podcasts use.
_BY_EXTENSION = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "pdf": "application/pdf",
}


def clean_url(value: Any, base_url: str | None) -> str | None:
    """An absolute http(s) URL with a lower-case scheme and host, or None.

    Refuses spaces, control characters, quotes, angle brackets, backslashes and
    backticks rather than escaping them: no file address needs them unescaped, and
    markup does. An absolute URL is split once; only a relative one is joined to
    ``base_url`` (a podcast feed has a hundred of them, each parsed on every change).
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_URL_LENGTH or _BAD_CHARS.search(value):
        return None
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in _HTTP or not parts.netloc:
            if not base_url:
                return None
            parts = urlsplit(urljoin(base_url, value))
        host = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _HTTP or not host:
        return None
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()  # credentials never reach the page
    url = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
    return url if len(url) <= MAX_URL_LENGTH else None


def clean_type(value: Any) -> str | None:
    """``value`` as a lower-case MIME type without parameters, or None."""
    if not isinstance(value, str):
        return None
    kind = value.split(";", 1)[0].strip().lower()
    return kind if _MIME.match(kind) else None


def clean_length(value: Any) -> int | None:
    """A declared size in bytes, or None when it is missing, zero, negative or unbelievable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        text = value.strip()
        if len(text) > 15:  # more digits than MAX_LENGTH has: no need to convert them
            return None
        number = int(text)
    else:
        return None
    return number if 0 < number <= MAX_LENGTH else None


def _type_from_extension(url: str) -> str | None:
    path = urlsplit(url).path
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _BY_EXTENSION.get(extension)


def enclosure_of(url: Any, kind: Any, length: Any, base_url: str | None) -> Enclosure | None:
    """One enclosure from a feed's raw values, or None when its URL is unusable."""
    address = clean_url(url, base_url)
    if address is None:
        return None
    return Enclosure(
        url=address,
        type=clean_type(kind) or _type_from_extension(address),
        length=clean_length(length),
    )


def unique_enclosures(found: Iterable[Enclosure | None]) -> list[Enclosure]:
    """The enclosures in document order, one per URL (the first wins), at most MAX_ENCLOSURES."""
    kept: dict[str, Enclosure] = {}
    for enclosure in found:
        if enclosure is not None and enclosure.url not in kept:
            kept[enclosure.url] = enclosure
            if len(kept) >= MAX_ENCLOSURES:
                break
    return list(kept.values())


def entry_enclosures(entry: Any, base_url: str) -> list[Enclosure]:
    """A feedparser entry's enclosures: RSS/Atom ones first, then Media RSS content."""
    found: list[Enclosure | None] = []
    for source, url_key, length_key in (
        ("enclosures", "href", "length"),
        ("media_content", "url", "filesize"),
    ):
        values = entry.get(source) if isinstance(entry, dict) else None
        if not isinstance(values, list):
            continue
        for value in values[: MAX_ENCLOSURES * 4]:
            if isinstance(value, dict):
                found.append(
                    enclosure_of(
                        value.get(url_key), value.get("type"), value.get(length_key), base_url
                    )
                )
    return unique_enclosures(found)


def as_json(enclosures: Iterable[Enclosure]) -> list[dict[str, object]]:
    """The stored and served shape: ``[{"url", "type", "length"}]``."""
    return [{"url": e.url, "type": e.type, "length": e.length} for e in enclosures]

"""Refuse XML documents whose DTD could expand entities without bound or reach out.

feedparser drops external and nested entity declarations itself, but keeps "safe" ones of
any size, so one 1 MB entity referenced 10,000 times would still expand to 10 GB
(quadratic blowup). Feeds have no need for entities beyond short character aliases such
as <!ENTITY nbsp "&#160;">, so anything else in the internal subset is refused up front.
"""

from __future__ import annotations

import codecs
import re

from .errors import FetchError

MAX_ENTITY_VALUE = 16  # enough for character aliases; bounds any expansion to a few times the input
_ENTITY = re.compile(r"<!ENTITY(.*?)>", re.IGNORECASE | re.DOTALL)
_SAFE_ENTITY = re.compile(
    r"""^\s+[A-Za-z_][\w.\-]*\s+(["'])((?:&\#[0-9]{1,7};|&\#x[0-9A-Fa-f]{1,6};|[^&%<"'])*)\1\s*$"""
)
_FIRST_ELEMENT = re.compile(r"<[A-Za-z_]")


def _prolog(body: bytes) -> str:
    """The text before the first element, decoded well enough to find declarations."""
    if body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) or body[:4] in (
        b"<\x00\x00\x00",
        b"\x00\x00\x00<",
    ):
        encoding = "utf-32"
        if not body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            encoding = "utf-32-le" if body[0] == 0x3C else "utf-32-be"
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or body[:2] in (
        b"<\x00",
        b"\x00<",
    ):
        encoding = "utf-16"
        if not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16-le" if body[0] == 0x3C else "utf-16-be"
    else:
        encoding = "latin-1"  # byte-transparent; markup is ASCII in every encoding feeds use
    text = body.decode(encoding, errors="replace")
    match = _FIRST_ELEMENT.search(text)
    return text[: match.start()] if match else text


def check_xml_safety(body: bytes) -> None:
    """Raise FetchError("parse_error") when the DTD declares unsafe entities."""
    prolog = _prolog(body)
    if "<!" not in prolog:
        return
    for match in _ENTITY.finditer(prolog):
        declaration = match.group(1)
        safe = _SAFE_ENTITY.match(declaration)
        if safe is None or len(safe.group(2)) > MAX_ENTITY_VALUE:
            raise FetchError(
                "parse_error",
                "The feed declares XML entities that could expand without limit or load "
                "outside files; it was refused for safety.",
            )

"""Decode a feed document the way feedparser will, before anything looks inside it.

feedparser picks a document's encoding from the HTTP charset, the byte-order mark, the
XML declaration and fallbacks (RFC 3023 rules), in an order no simple sniffer
reproduces: a check that reads the bytes some other way (as Latin-1, say) can miss a
DTD that the parser then sees, in EBCDIC, BOM-less UTF-16/32 or UTF-7. So the bytes are
converted with feedparser's own function, once, and every check and the parser itself
read the UTF-8 it produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from feedparser.encodings import convert_to_utf8

# What the parser is told about the converted bytes: UTF-8 and XML, so that it keeps them.
UTF8_XML = "application/xml; charset=utf-8"


@dataclass(frozen=True)
class Utf8Document:
    """A document re-encoded as UTF-8, its XML declaration rewritten to say so."""

    data: bytes
    encoding: str  # what the document was read as ("" when nothing fitted)
    problem: Exception | None  # feedparser's note on the charset or type (a bozo reason)


def to_utf8(body: bytes, headers: Mapping[str, str]) -> Utf8Document:
    """`body` as UTF-8, decoded with the encoding feedparser chooses for these headers.

    `headers` use lowercase names. When no encoding fits, the bytes are decoded as
    UTF-8 with replacement characters, as feedparser's tolerant parser would read them.
    """
    result: dict[str, object] = {}
    declared = {"content-type": headers.get("content-type", "application/xml")}
    data = convert_to_utf8(declared, body, result)
    encoding = str(result.get("encoding") or "")
    if not encoding:
        data = body.decode("utf-8", "replace").encode("utf-8")
    problem = result.get("bozo_exception")
    return Utf8Document(data, encoding, problem if isinstance(problem, Exception) else None)

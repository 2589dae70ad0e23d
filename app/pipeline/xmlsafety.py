"""Refuse XML documents whose DTD could expand entities without bound or reach out.

feedparser drops external and nested entity declarations itself, but keeps "safe" ones of
any size, so one 1 MB entity referenced 10,000 times would still expand to 10 GB
(quadratic blowup). Feeds have no need for entities beyond short character aliases such
as <!ENTITY nbsp "&#160;">, so anything else in the internal subset is refused up front.

The check reads the document as the parser will: UTF-8 from charset.to_utf8, decoded
with feedparser's own choice of encoding. Any "<!ENTITY" before the first element counts,
even inside a comment, since feedparser's DOCTYPE rewriting finds declarations by
pattern, not by parsing.
"""

from __future__ import annotations

import re

from .errors import FetchError

MAX_ENTITY_VALUE = 16  # enough for character aliases; bounds any expansion to a few times the input
# A safe declaration is a short name and a value of MAX_ENTITY_VALUE characters or
# char refs; anything longer is refused unread, so no pattern runs over megabytes.
MAX_DECLARATION = 200
_SAFE_ENTITY = re.compile(
    r"""^\s+[A-Za-z_][\w.\-]*\s+(["'])((?:&\#[0-9]{1,7};|&\#x[0-9A-Fa-f]{1,6};|[^&%<"'])*)\1\s*$"""
)
# feedparser's DOCTYPE rewriting ends the prolog at the first "<\w"; this pattern never
# ends it sooner, so it reads at least what feedparser reads.
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


def check_xml_safety(data: bytes) -> None:
    """Raise FetchError("parse_error") when the DTD declares unsafe entities.

    `data` is the document as UTF-8, as the parser will read it (charset.to_utf8).
    """
    match = _FIRST_ELEMENT.search(data)
    head = data[: match.start()] if match else data
    if b"<!" not in head:
        return
    # Any case, as before: stricter than XML, which knows only "<!ENTITY".
    upper = head.upper()  # bytes.upper() changes ASCII letters only: offsets stay
    start = upper.find(b"<!ENTITY")
    while start != -1:
        end = head.find(b">", start)
        declaration = head[start + len(b"<!ENTITY") : end]
        if end == -1 or len(declaration) > MAX_DECLARATION:
            raise _refused()
        safe = _SAFE_ENTITY.match(declaration.decode("utf-8", errors="replace"))
        if safe is None or len(safe.group(2)) > MAX_ENTITY_VALUE:
            raise _refused()
        start = upper.find(b"<!ENTITY", end)


def _refused() -> FetchError:
    return FetchError(
        "parse_error",
        "The feed declares XML entities that could expand without limit or load "
        "outside files; it was refused for safety.",
    )

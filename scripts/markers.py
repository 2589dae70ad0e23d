"""Generated parts of documents: the text between two marker comments, replaced."""

from __future__ import annotations


def replace_between(text: str, begin: str, end: str, body: str, where: str) -> str:
    """``text`` with what stands between ``begin`` and ``end`` replaced by ``body``.

    Exits with a message naming ``where`` (the document) when a marker is missing:
    a generated table must never be appended to a document that lost its place.
    """
    head, found, rest = text.partition(begin)
    _old, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"{where} lacks the markers {begin!r} ... {end!r}")
    return f"{head}{begin}\n{body}\n{end}{tail}"

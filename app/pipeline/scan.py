"""A streaming scan of an XML document before feedparser builds anything from it.

feedparser turns every element into Python objects, at some 14 µs apiece, and keeps
every item: a 9 MB document of 300,000 tiny items costs it 16 s of CPU and 300 MB
before the item cap could drop all but 500. This scan runs expat (C) over the UTF-8
document with handlers for element starts and ends only (a text handler would be
called once per entity reference, a million times for a megabyte of "&lt;"), and:

- refuses the document (``parse_limit``) past ``max_elements`` elements, ``max_depth``
  levels of nesting, or ``max_attribute_bytes`` of attributes on one element;
- cuts it just before its item number ``max_items_read + 1`` (``item`` or ``entry``, any
  prefix, any depth) and closes the elements left open, so the rest is never parsed
  (``max_items_read`` is larger than ``max_items``, so that the newest ``max_items``
  are kept whatever the order of a feed of ordinary length);
- empties every field (an element inside the channel, the Atom feed or an item) whose
  bytes pass ``max_field_bytes``, keeping its tags.

expat stops at the first well-formedness error, while feedparser then reads the whole
document with its tolerant parser. Past such an error the scan counts bytes instead:
item start tags found by pattern (the document is cut at the same item, without
closing anything) and tag openings against ``max_elements``. Whatever this misses is
bounded by the parser process's memory and CPU limits (isolation.py).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass

from .errors import FetchError
from .models import FetchLimits

ITEMS = frozenset({"item", "entry"})
CONTAINERS = ITEMS | {"channel"}
# Kinds of open elements: the root, channel and item elements hold fields; a field's
# descendants are its content.
_CONTAINER, _FIELD, _CONTENT = 0, 1, 2

# A start tag, as expat has already checked it: name, attributes, optional "/".
_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(?:item|entry)[\s/>]")


@dataclass(frozen=True)
class Scanned:
    """The document to parse, after cuts, and what was left out."""

    data: bytes
    items_cut: bool  # items past max_items_read were cut off unread
    fields_emptied: int  # fields over max_field_bytes, emptied


class _Cut(Exception):
    """Raised inside expat's callbacks: stop here, the rest is not read."""


def _limit(message: str) -> FetchError:
    return FetchError("parse_limit", f"The feed {message}; it was refused unread.")


class _Scan:
    def __init__(self, parser: xml.parsers.expat.XMLParserType, limits: FetchLimits) -> None:
        self.parser = parser
        self.limits = limits
        self.names: list[str] = []
        self.kinds: list[int] = []
        self.elements = 0
        self.items = 0
        self.field_start = 0
        self.emptied: list[tuple[int, int]] = []  # (field start tag, its end tag)
        self.cut_at: int | None = None

    def start(self, name: str, attributes: list[str]) -> None:
        limits = self.limits
        self.elements += 1
        if self.elements > limits.max_elements:
            raise _limit(f"has more than {limits.max_elements:,} elements")
        if len(self.names) >= limits.max_depth:
            raise _limit(f"nests elements more than {limits.max_depth} levels deep")
        if attributes and sum(map(len, attributes)) > limits.max_attribute_bytes:
            raise _limit(
                f"has an element with more than {limits.max_attribute_bytes:,} "
                "characters of attributes"
            )
        local = name.rpartition(":")[2]
        if local in ITEMS:
            self.items += 1
            if self.items > limits.max_items_read:
                self.cut_at = self.parser.CurrentByteIndex
                raise _Cut
        parent = self.kinds[-1] if self.kinds else _CONTAINER
        if not self.kinds or (parent == _CONTAINER and local in CONTAINERS):
            kind = _CONTAINER
        elif parent == _CONTAINER:
            kind = _FIELD
            self.field_start = self.parser.CurrentByteIndex
        else:
            kind = _CONTENT
        self.names.append(name)
        self.kinds.append(kind)

    def end(self, name: str) -> None:
        self.names.pop()
        if self.kinds.pop() == _FIELD:
            self.field_ended(self.parser.CurrentByteIndex)

    def field_ended(self, end: int) -> None:
        if end - self.field_start > self.limits.max_field_bytes:
            self.emptied.append((self.field_start, end))


def scan_xml(data: bytes, limits: FetchLimits) -> Scanned:
    """Check and trim a UTF-8 XML document (charset.to_utf8) within `limits`.

    Raises FetchError("parse_limit") for a document past the element, depth or
    attribute caps; returns the document to parse otherwise.
    """
    parser = xml.parsers.expat.ParserCreate()
    parser.ordered_attributes = True
    scan = _Scan(parser, limits)
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    closing = b""
    end = len(data)
    try:
        parser.Parse(data, True)
    except _Cut:
        assert scan.cut_at is not None
        end = scan.cut_at
        if _FIELD in scan.kinds:
            scan.field_ended(end)  # the cut falls inside a field, which ends there
        closing = "".join(f"</{name}>" for name in reversed(scan.names)).encode()
    except xml.parsers.expat.ExpatError:
        end = _count_past_error(data, parser.ErrorByteIndex, scan)
    return Scanned(
        data=_splice(data, scan.emptied, end) + closing,
        items_cut=end < len(data),
        fields_emptied=len(scan.emptied),
    )


def _count_past_error(data: bytes, position: int, scan: _Scan) -> int:
    """Byte counts where expat gave up: returns where the document is cut (or its end)."""
    limits = scan.limits
    position = max(position, 0)
    end = len(data)
    items = scan.items
    for match in _ITEM_START.finditer(data, position):
        items += 1
        if items > limits.max_items_read:
            end = match.start()
            break
    if scan.elements + _tag_openings(data, position, end) > limits.max_elements:
        raise _limit(f"has more than {limits.max_elements:,} elements")
    return end


def _tag_openings(data: bytes, start: int, end: int) -> int:
    """Start tags (and declarations) in `data[start:end]`, markup in CDATA sections left out."""

    def openings(a: int, b: int) -> int:
        return data.count(b"<", a, b) - data.count(b"</", a, b)

    total = openings(start, end)
    section = data.find(b"<![CDATA[", start, end)
    while section != -1:
        close = data.find(b"]]>", section, end)
        stop = end if close == -1 else close
        total -= openings(section + len(b"<![CDATA["), stop)
        section = data.find(b"<![CDATA[", stop, end)
    return total


def _splice(data: bytes, emptied: list[tuple[int, int]], end: int) -> bytes:
    """`data[:end]` with the content of each emptied field left out (its tags kept)."""
    if not emptied:
        return data[:end]
    parts: list[bytes] = []
    position = 0
    for start, stop in emptied:
        tag = _START_TAG.match(data, start)
        if tag is None or tag.group().endswith(b"/>") or tag.end() > stop:
            continue  # an empty element: nothing inside to leave out
        parts.append(data[position : tag.end()])
        position = stop
    parts.append(data[position:end])
    return b"".join(parts)

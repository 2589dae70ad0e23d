"""OPML subscription lists: parse an uploaded file into feed entries, and write one.

Uploaded files are hostile input. They are parsed with expat feeding the
stdlib ElementTree builder, with any DOCTYPE refused outright: no entity can
be declared, so neither entity expansion ("billion laughs") nor external
entities can happen. Size and outline-count limits bound the work.
Flask-free: the web layer hands in bytes and gets plain data back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.parsers import expat

from app.urls import InvalidURL, normalize_url

MAX_BYTES = 1024 * 1024
MAX_OUTLINES = 1000
#: Folder levels kept from nested categories (deeper ones file into the deepest kept).
MAX_FOLDER_DEPTH = 8
#: Longest folder name kept.
MAX_FOLDER_NAME = 200


class OpmlError(ValueError):
    """The file as a whole cannot be imported; ``str(err)`` says why, for a person."""


@dataclass(frozen=True)
class OpmlEntry:
    """One outline that names a feed (or should have)."""

    line: int
    title: str
    xml_url: str
    html_url: str | None = None
    #: The category outlines it sits in, outermost first: the person's folders.
    folder: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    """An entry that will not be imported, and why."""

    entry: OpmlEntry
    reason: str


@dataclass(frozen=True)
class ImportPlan:
    """What to submit (normalised URLs, one per feed) and what to report as refused."""

    accepted: list[tuple[OpmlEntry, str]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class OpmlDocument:
    title: str | None
    entries: list[OpmlEntry]


def _attr(attrs: dict[str, str], name: str) -> str:
    # Real-world files spell attributes inconsistently (xmlUrl, xmlurl, XMLURL).
    lowered = name.lower()
    for key, value in attrs.items():
        if key.lower() == lowered:
            return value.strip()
    return ""


def _parse_xml(data: bytes) -> tuple[ET.Element, dict[int, int]]:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    lines: dict[int, int] = {}
    outlines = 0

    def refuse_doctype(*_args: object) -> None:
        raise OpmlError("The file declares a DOCTYPE or entities, which are not accepted.")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal outlines
        if tag == "outline":
            outlines += 1
            if outlines > MAX_OUTLINES:
                raise OpmlError(f"The file has more than {MAX_OUTLINES} outlines.")
        element = builder.start(tag, attrs)
        lines[id(element)] = parser.CurrentLineNumber

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"The file is not well-formed XML (line {exc.lineno}).") from None
    return builder.close(), lines


def parse_opml(data: bytes) -> OpmlDocument:
    """Read the feed outlines of an OPML file (nested categories included)."""
    if len(data) > MAX_BYTES:
        raise OpmlError(f"The file is larger than {MAX_BYTES // 1024} KiB.")
    if not data.strip():
        raise OpmlError("The file is empty.")
    root, lines = _parse_xml(data)
    if root.tag.lower() != "opml":
        raise OpmlError("The file is XML but not OPML (its root element is not <opml>).")
    body = root.find("body")
    if body is None:
        raise OpmlError("The OPML file has no <body>.")
    title_element = root.find("head/title")
    title = ((title_element.text or "").strip() or None) if title_element is not None else None
    entries: list[OpmlEntry] = []
    # Depth-first, in document order; a category's path goes with each feed inside it.
    stack: list[tuple[ET.Element, tuple[str, ...]]] = [
        (child, ()) for child in reversed(list(body))
    ]
    while stack:
        outline, folder = stack.pop()
        if outline.tag != "outline":
            continue
        xml_url = _attr(outline.attrib, "xmlUrl")
        name = _attr(outline.attrib, "title") or _attr(outline.attrib, "text")
        if not xml_url and len(outline):
            # A category holding other outlines: a folder (nameless ones add no level).
            inner = (*folder, name[:MAX_FOLDER_NAME]) if name else folder
            stack.extend((child, inner) for child in reversed(list(outline)))
            continue
        entries.append(
            OpmlEntry(
                line=lines.get(id(outline), 0),
                title=name or xml_url,
                xml_url=xml_url,
                html_url=_attr(outline.attrib, "htmlUrl") or None,
                folder=folder[:MAX_FOLDER_DEPTH],
            )
        )
    return OpmlDocument(title, entries)


def plan_import(
    entries: Iterable[OpmlEntry], check: Callable[[str], str | None] | None = None
) -> ImportPlan:
    """Normalise each entry's URL; refuse invalid ones and repeats one by one.

    ``check`` may refuse a normalised URL for a further reason (it returns the
    reason, or None to accept).
    """
    plan = ImportPlan()
    seen: dict[str, int] = {}
    for entry in entries:
        if not entry.xml_url:
            plan.rejected.append(Rejected(entry, "The outline has no feed address (xmlUrl)."))
            continue
        try:
            url = normalize_url(entry.xml_url)
        except InvalidURL as exc:
            plan.rejected.append(Rejected(entry, exc.message))
            continue
        reason = check(url) if check else None
        if reason:
            plan.rejected.append(Rejected(entry, reason))
        elif url in seen:
            plan.rejected.append(Rejected(entry, f"Already listed on line {seen[url]}."))
        else:
            seen[url] = entry.line
            plan.accepted.append((entry, url))
    return plan


def build_opml(
    feeds: Iterable[OpmlEntry],
    *,
    title: str = "feedqueue subscriptions",
    now: datetime | None = None,
) -> bytes:
    """An OPML 2.0 document listing ``feeds`` (UTF-8, with XML declaration), each inside
    category outlines for its folder path."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    # Category outlines for folders, created as their first feed needs them.
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for feed in feeds:
        parent = body
        for depth in range(1, len(feed.folder) + 1):
            path = feed.folder[:depth]
            if path not in folders:
                folders[path] = ET.SubElement(
                    folders[path[:-1]], "outline", {"text": path[-1], "title": path[-1]}
                )
            parent = folders[path]
        attrs = {"type": "rss", "text": feed.title, "title": feed.title, "xmlUrl": feed.xml_url}
        if feed.html_url:
            attrs["htmlUrl"] = feed.html_url
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"

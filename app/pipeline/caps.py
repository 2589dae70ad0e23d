"""Caps on what a parsed feed may store: one HTML value, all items of one fetch.

The document caps (scan.py) bound what the parser reads; these bound what comes out,
since escaping can make a value grow (plain text with a megabyte of "<" becomes four
megabytes of "&lt;" once turned into HTML). Values are measured in UTF-8 bytes, as
Postgres stores them.
"""

from __future__ import annotations

from .models import ParsedItem
from .sanitize import sanitize_html


def utf8_size(value: str | None) -> int:
    """Bytes of `value` in UTF-8 (0 for None)."""
    if not value:
        return 0
    return len(value) if value.isascii() else len(value.encode("utf-8"))


def human_size(size: int) -> str:
    """'512 KiB', '16 MiB', '300 bytes'."""
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if size >= unit:
            return f"{size / unit:.3g} {name}"
    return f"{size} bytes"


class HtmlCap:
    """Cuts sanitised HTML values to `max_bytes`, and counts how many it cut."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.cut = 0

    def __call__(self, value: str | None) -> str | None:
        """`value`, or as much of its start as fits, cleaned again (tags cut open closed)."""
        if value is None or utf8_size(value) <= self.max_bytes:
            return value
        self.cut += 1
        encoded = value.encode("utf-8")
        size = self.max_bytes
        for _ in range(8):
            head = encoded[:size].decode("utf-8", "ignore")
            # Cleaning closes the elements the cut left open, which adds their end tags.
            cleaned = sanitize_html(head)
            over = utf8_size(cleaned) - self.max_bytes
            if over <= 0:
                return cleaned or None
            size -= over
        return None


def item_size(item: ParsedItem) -> int:
    """What storing `item` takes, in UTF-8 bytes of its text fields."""
    return (
        utf8_size(item.key)
        + utf8_size(item.guid)
        + utf8_size(item.url)
        + utf8_size(item.title)
        + utf8_size(item.author)
        + utf8_size(item.summary_html)
        + utf8_size(item.content_html)
        + sum(utf8_size(e.url) + utf8_size(e.type) + 40 for e in item.enclosures)
    )


def keep_within(items: list[ParsedItem], max_bytes: int) -> tuple[list[ParsedItem], int]:
    """The first items (newest first) that fit in `max_bytes` together; and how many did not."""
    total = 0
    for index, item in enumerate(items):
        total += item_size(item)
        if total > max_bytes:
            return items[:index], len(items) - index
    return items, 0


def notes(
    *,
    items_read: int | None = None,
    fields_emptied: int = 0,
    max_field_bytes: int = 0,
    values_cut: int = 0,
    items_over_budget: int = 0,
    max_stored_bytes: int = 0,
) -> list[str]:
    """Sentences for the feed's warning, one per cap that was applied."""
    said: list[str] = []
    if items_read is not None:
        said.append(
            f"The feed has more than {items_read:,} items; only the first {items_read:,} were read."
        )
    if fields_emptied:
        said.append(f"{fields_emptied} field(s) over {human_size(max_field_bytes)} were left out.")
    if values_cut:
        said.append(
            f"{values_cut} summary or content value(s) were cut to {human_size(max_field_bytes)}."
        )
    if items_over_budget:
        said.append(
            f"{items_over_budget} older item(s) were left out: together the items passed "
            f"the {human_size(max_stored_bytes)} one fetch may store."
        )
    return said

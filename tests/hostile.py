"""A corpus of hostile feed documents, generated (nothing this size belongs in git).

Each case is a document an attacker could serve under the download cap, with the
outcome the app must reach: a clean failure with a stable code, or a success whose
items are bounded by the caps. The pipeline tests, the end-to-end test with real
worker processes and the memory measurements all read this one list.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field

RSS_TYPE = "application/rss+xml"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    """One hostile document and what must come of it."""

    name: str
    body: bytes
    content_type: str = RSS_TYPE
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    #: The FetchError code the fetch must end with, or None: it must succeed, bounded.
    code: str | None = None
    #: For a success: the most items it may keep (FETCH_MAX_ITEMS by default).
    max_items: int = 500


def _rss(items: str, prolog: str = "", channel: str = "") -> str:
    return (
        f'{prolog}<rss version="2.0"><channel><title>hostile</title>'
        f"<link>https://hostile.example/</link>{channel}{items}</channel></rss>"
    )


def entity_bomb_text(value_chars: int = 60_000, references: int = 50_000) -> str:
    """The issue's bomb: one big entity referenced many times (quadratic blowup).

    60,000 characters times 50,000 references is 3 GB once expanded, from ~200 KB.
    """
    refs = "&big;" * references
    # One declaration a line, as feedparser's own DOCTYPE rewriting expects to find them.
    prolog = f'\n<!DOCTYPE rss [\n<!ENTITY big "{"A" * value_chars}">\n]>\n'
    return _rss(f"<item><guid>1</guid><title>{refs}</title></item>", prolog=prolog)


def _declared(text: str, encoding: str) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>' + text


def entity_bombs() -> list[Hostile]:
    """The same bomb in every encoding a prolog sniffer can miss."""
    text = entity_bomb_text()
    cases = [
        # EBCDIC, declared in the HTTP header and in the document.
        Hostile(
            "entity-bomb-cp037",
            _declared(text, "cp037").encode("cp037"),
            f"{RSS_TYPE}; charset=cp037",
            code="parse_error",
        ),
        Hostile(
            "entity-bomb-cp500",
            _declared(text, "cp500").encode("cp500"),
            f"{RSS_TYPE}; charset=cp500",
            code="parse_error",
        ),
        # Byte-order-mark-less UTF-16 and UTF-32, one leading space so no "<" pattern shows.
        Hostile(
            "entity-bomb-utf16le-no-bom",
            (" " + text).encode("utf-16-le"),
            f"{RSS_TYPE}; charset=utf-16le",
            code="parse_error",
        ),
        Hostile(
            "entity-bomb-utf16be-no-bom",
            (" " + text).encode("utf-16-be"),
            f"{RSS_TYPE}; charset=utf-16be",
            code="parse_error",
        ),
        Hostile(
            "entity-bomb-utf32le-no-bom",
            # UTF-32 is four bytes a character: a smaller bomb keeps it under the cap.
            (" " + entity_bomb_text(20_000, 20_000)).encode("utf-32-le"),
            f"{RSS_TYPE}; charset=utf-32le",
            code="parse_error",
        ),
        Hostile(
            "entity-bomb-utf7",
            # Python's encoder writes "<" as itself; an attacker writes it as "+ADw-".
            text.replace("<", "+ADw-").replace(">", "+AD4-").encode("ascii"),
            f"{RSS_TYPE}; charset=utf-7",
            code="parse_error",
        ),
        # Mixed declarations: the header says UTF-8, the document says and is cp037;
        # the body is not UTF-8, so the parser falls back to the document's word.
        Hostile(
            "entity-bomb-header-utf8-document-cp037",
            _declared(text, "cp037").encode("cp037"),
            f"{RSS_TYPE}; charset=utf-8",
            code="parse_error",
        ),
        # No charset in the header, a UTF-16 BOM, a declaration that claims UTF-8.
        Hostile(
            "entity-bomb-bom-utf16-declared-utf8",
            b"\xff\xfe" + _declared(text, "utf-8").encode("utf-16-le"),
            RSS_TYPE,
            code="parse_error",
        ),
        # text/xml with no charset means US-ASCII; the bomb is ASCII-clean UTF-16 text.
        Hostile(
            "entity-bomb-text-xml-utf16",
            _declared(text, "utf-16").encode("utf-16"),
            "text/xml",
            code="parse_error",
        ),
    ]
    return cases


def many_items(count: int = 300_000) -> Hostile:
    """The issue's 300,000 tiny items (~9 MB): kept to the item cap, never parsed in full."""
    items = "".join(f"<item><guid>{n}</guid></item>" for n in range(count))
    return Hostile("many-items", _rss(items).encode())


def many_items_broken(count: int = 300_000) -> Hostile:
    """Many items behind an undefined entity: strict XML fails, the tolerant parser runs."""
    items = "".join(f"<item><guid>{n}</guid></item>" for n in range(count))
    return Hostile("many-items-not-well-formed", _rss(items, channel="<x>&nbsp;</x>").encode())


def huge_fields(fields: int = 9, size: int = MIB) -> Hostile:
    """The issue's nine fields of 1 MB of "<" each (CDATA keeps them at 1 MB on the wire)."""
    lt = "<" * size
    names = ["title", "description", "author", "comments", "category", "source"]
    parts = [
        f"<{names[i % len(names)]}><![CDATA[{lt}]]></{names[i % len(names)]}>"
        for i in range(fields)
    ]
    first, second = "".join(parts[:5]), "".join(parts[5:])
    items = f"<item><guid>1</guid>{first}</item><item><guid>2</guid>{second}</item>"
    return Hostile("huge-fields", _rss(items).encode())


def escaped_fields(size: int = 2 * MIB) -> Hostile:
    """Megabytes of &lt; in an item's text: one entity reference per character."""
    return Hostile(
        "escaped-lt-fields",
        _rss(f"<item><guid>1</guid><description>{'&lt;' * size}</description></item>").encode(),
    )


def deep_nesting(depth: int = 200_000) -> Hostile:
    """The issue's 200,000 nested elements, inside one item."""
    inner = "<a>" * depth + "</a>" * depth
    return Hostile(
        "deep-nesting", _rss(f"<item><guid>1</guid>{inner}</item>").encode(), code="parse_limit"
    )


def deep_nesting_broken(depth: int = 200_000) -> Hostile:
    """Nested elements that are never closed: only the tolerant parser reads them."""
    return Hostile(
        "deep-nesting-unclosed",
        _rss("<item><guid>1</guid>" + "<a>" * depth).encode(),
        code="parse_limit",
    )


def many_elements(count: int = 1_000_000) -> Hostile:
    """A flat million empty elements inside one item."""
    return Hostile(
        "many-elements",
        _rss(f"<item><guid>1</guid>{'<x/>' * count}</item>").encode(),
        code="parse_limit",
    )


def attribute_bombs() -> list[Hostile]:
    """Attribute values that grow while parsing, and elements with endless attributes."""
    # A character alias as short as any feed's, and five times longer than its reference.
    entity = '\n<!DOCTYPE rss [\n<!ENTITY e "AAAAAAAAAAAAAAAA">\n]>\n'
    expanding = "&e;" * 1_000_000  # 3 MB on the wire, 16 MB once expanded
    many = " ".join(f"a{n}='{n}'" for n in range(200_000))
    return [
        Hostile(
            "attribute-entity-expansion",
            _rss(f'<item><guid>1</guid><link href="{expanding}"/></item>', prolog=entity).encode(),
            code="parse_limit",
        ),
        Hostile(
            "attribute-value-megabytes",
            _rss(f'<item><guid>1</guid><enclosure url="{"&lt;" * 1_500_000}"/></item>').encode(),
            code="parse_limit",
        ),
        Hostile(
            "attributes-by-the-hundred-thousand",
            _rss(f"<item><guid>1</guid><enclosure {many}/></item>").encode(),
            code="parse_limit",
        ),
    ]


def json_many_items(count: int = 200_000) -> Hostile:
    """A JSON Feed with 200,000 items."""
    items = ",".join(f'{{"id":"{n}","content_text":"x"}}' for n in range(count))
    body = f'{{"version":"https://jsonfeed.org/version/1.1","title":"j","items":[{items}]}}'
    return Hostile("json-many-items", body.encode(), "application/feed+json")


def json_deep_nesting(depth: int = 500_000) -> Hostile:
    """JSON nested half a million levels deep."""
    return Hostile(
        "json-deep-nesting",
        ("[" * depth + "]" * depth).encode(),
        "application/feed+json",
        code="parse_error",
    )


def gzip_of_entity_bomb() -> Hostile:
    """The cp037 bomb again, gzip-compressed on the wire."""
    plain = entity_bombs()[0]
    return Hostile(
        "gzip-of-entity-bomb",
        gzip.compress(plain.body),
        plain.content_type,
        {"Content-Encoding": "gzip"},
        code="parse_error",
    )


def gzip_bomb(decompressed: int = 64 * MIB) -> Hostile:
    """A gzip body that inflates far past the download cap (counted after decompression)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    chunk = b" " * MIB
    parts = [compressor.compress(b'<rss version="2.0"><channel>')]
    parts += [compressor.compress(chunk) for _ in range(decompressed // MIB)]
    parts.append(compressor.flush())
    return Hostile(
        "gzip-bomb", b"".join(parts), headers={"Content-Encoding": "gzip"}, code="too_large"
    )


def corpus() -> list[Hostile]:
    """Every hostile case, each under the default 10 MiB download cap on the wire."""
    return [
        *entity_bombs(),
        gzip_of_entity_bomb(),
        gzip_bomb(),
        many_items(),
        many_items_broken(),
        huge_fields(),
        escaped_fields(),
        deep_nesting(),
        deep_nesting_broken(),
        many_elements(),
        *attribute_bombs(),
        json_many_items(),
        json_deep_nesting(),
    ]


def heavy_feed(items: int = 2000, categories: int = 95) -> bytes:
    """A well-formed feed with nothing wrong but its weight: as many items as are read
    and as many elements as are allowed (190,000 categories), each one work for the parser.

    Within every cap of the scan, so only the parser process's limits can stop it: at
    the defaults 4.2 MB and about 3.4 s of CPU to parse here.
    """
    tags = "<category>x</category>" * categories
    return _rss("".join(f"<item><guid>{n}</guid>{tags}</item>" for n in range(items))).encode()


def empty_json_objects(count: int = 2_000_000) -> bytes:
    """A JSON Feed whose item list holds millions of empty objects: 3 bytes each on the
    wire, some 100 bytes each once decoded. Nothing streams JSON: only the parser
    process's memory limit stops it."""
    items = ",".join(["{}"] * count)
    return f'{{"version":"https://jsonfeed.org/version/1.1","items":[{items}]}}'.encode()

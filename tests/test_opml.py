"""OPML parsing, import planning and export (no Flask, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.opml import (
    MAX_BYTES,
    MAX_FOLDER_DEPTH,
    MAX_OUTLINES,
    OpmlEntry,
    OpmlError,
    build_opml,
    parse_opml,
    plan_import,
)

SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Example" title="Example feed" xmlUrl="https://example.com/feed.xml"
               htmlUrl="https://example.com/"/>
    </outline>
    <outline text="Other" xmlurl="http://other.example/rss"/>
    <outline text="No address"/>
  </body>
</opml>
"""


def _entry(url: str, line: int = 1) -> OpmlEntry:
    return OpmlEntry(line=line, title=url, xml_url=url)


def test_parse_reads_feed_outlines_inside_categories() -> None:
    doc = parse_opml(SAMPLE)
    assert doc.title == "My feeds"
    assert [e.xml_url for e in doc.entries] == [
        "https://example.com/feed.xml",
        "http://other.example/rss",
        "",
    ]
    assert doc.entries[0].title == "Example feed"
    assert doc.entries[0].html_url == "https://example.com/"


def test_parse_records_the_line_of_each_outline() -> None:
    doc = parse_opml(SAMPLE)
    assert [e.line for e in doc.entries] == [6, 9, 10]


def test_parse_refuses_a_doctype() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE opml><opml version="2.0"><body/></opml>'
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(data)


def test_parse_refuses_entity_expansion() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://e.com/"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(data)


def test_parse_refuses_external_entities() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://e.com/"/></body></opml>'
    )
    with pytest.raises(OpmlError):
        parse_opml(data)


def test_parse_refuses_an_undeclared_entity_reference() -> None:
    data = b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://e.com/"/></body></opml>'
    with pytest.raises(OpmlError, match="well-formed"):
        parse_opml(data)


def test_parse_refuses_a_file_over_the_size_limit() -> None:
    data = b"<opml><body>" + b" " * MAX_BYTES + b"</body></opml>"
    with pytest.raises(OpmlError, match="larger"):
        parse_opml(data)


def test_parse_refuses_more_outlines_than_the_limit() -> None:
    outlines = b'<outline xmlUrl="https://e.com/"/>' * (MAX_OUTLINES + 1)
    with pytest.raises(OpmlError, match="outlines"):
        parse_opml(b"<opml><body>" + outlines + b"</body></opml>")


def test_parse_accepts_exactly_the_outline_limit() -> None:
    outlines = b'<outline xmlUrl="https://e.com/"/>' * MAX_OUTLINES
    assert len(parse_opml(b"<opml><body>" + outlines + b"</body></opml>").entries) == MAX_OUTLINES


def test_parse_refuses_malformed_xml_with_its_line() -> None:
    with pytest.raises(OpmlError, match="line 2"):
        parse_opml(b"<opml>\n<body><outline></body></opml>")


def test_parse_refuses_xml_that_is_not_opml() -> None:
    with pytest.raises(OpmlError, match="not OPML"):
        parse_opml(b"<rss><channel/></rss>")


def test_parse_refuses_an_empty_file() -> None:
    with pytest.raises(OpmlError, match="empty"):
        parse_opml(b"  \n")


def test_plan_normalises_urls_and_reports_invalid_entries_one_by_one() -> None:
    plan = plan_import(
        [
            _entry("HTTPS://Example.COM:443/feed#top", 3),
            _entry("ftp://example.com/feed", 4),
            _entry("", 5),
            _entry("https://example.com/feed", 6),
        ]
    )
    assert [url for _, url in plan.accepted] == ["https://example.com/feed"]
    assert [(r.entry.line, r.reason) for r in plan.rejected] == [
        (4, "Only http:// and https:// addresses can be fetched."),
        (5, "The outline has no feed address (xmlUrl)."),
        (6, "Already listed on line 3."),
    ]


def test_plan_applies_the_extra_check() -> None:
    plan = plan_import([_entry("http://10.0.0.1/feed")], check=lambda url: "private network")
    assert plan.accepted == []
    assert plan.rejected[0].reason == "private network"


def test_build_writes_opml_2_that_parses_back() -> None:
    feeds = [
        OpmlEntry(0, "A & B <feed>", "https://a.example/feed", "https://a.example/"),
        OpmlEntry(0, "C", "https://c.example/rss"),
    ]
    data = build_opml(feeds, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b'<opml version="2.0">' in data
    assert b"<dateCreated>Fri, 02 Jan 2026 03:04:05 GMT</dateCreated>" in data
    doc = parse_opml(data)
    assert [(e.title, e.xml_url, e.html_url) for e in doc.entries] == [
        ("A & B <feed>", "https://a.example/feed", "https://a.example/"),
        ("C", "https://c.example/rss", None),
    ]


NESTED = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="Top"><outline text="News">
  <outline text="A" xmlUrl="https://a.example/feed"/>
</outline>
  <outline text="B" xmlUrl="https://b.example/feed"/>
</outline>
<outline text="C" xmlUrl="https://c.example/feed"/>
</body></opml>"""


def test_parse_keeps_the_folder_path_of_nested_categories() -> None:
    doc = parse_opml(NESTED)
    assert [(e.title, e.folder) for e in doc.entries] == [
        ("A", ("Top", "News")),
        ("B", ("Top",)),
        ("C", ()),
    ]


def test_build_writes_folders_back_as_nested_outlines_that_parse_the_same() -> None:
    entries = parse_opml(NESTED).entries
    again = parse_opml(build_opml(entries)).entries
    assert [(e.title, e.xml_url, e.folder) for e in again] == [
        (e.title, e.xml_url, e.folder) for e in entries
    ]


def test_parse_keeps_at_most_the_folder_depth_limit() -> None:
    depth = MAX_FOLDER_DEPTH + 3
    opml = (
        b'<opml version="2.0"><body>'
        + b"".join(f'<outline text="L{n}">'.encode() for n in range(depth))
        + b'<outline text="F" xmlUrl="https://f.example/"/>'
        + b"</outline>" * depth
        + b"</body></opml>"
    )
    (entry,) = parse_opml(opml).entries
    assert entry.folder == tuple(f"L{n}" for n in range(MAX_FOLDER_DEPTH))

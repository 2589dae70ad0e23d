"""XML entity attacks and feedparser's own behaviour (checked, not assumed)."""

from __future__ import annotations

import io
import time

import feedparser
import pytest

from app.pipeline import FetchError, fetch_feed, parse_feed
from app.pipeline.charset import to_utf8
from tests.hostile import Hostile, entity_bombs

BASE = "https://feeds.example.com/feed.xml"
XML = {"Content-Type": "application/rss+xml"}
# A UTF-16 BOM under a UTF-8 declaration, or under text/xml without a charset: feedparser
# believes the declaration (or US-ASCII) and reads NUL-laden text, so no bomb expands.
READ_AS_GARBAGE = {"entity-bomb-bom-utf16-declared-utf8", "entity-bomb-text-xml-utf16"}


def billion_laughs() -> bytes:
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10)
    ).replace("&lol0;", "lol")
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{entities}]>\n'
        '<rss version="2.0"><channel><title>&lol9;</title>'
        "<item><guid>1</guid><title>&lol9;</title></item></channel></rss>"
    ).encode()


def quadratic_blowup() -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"A" * 200_000}">\n]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        f"<item><guid>1</guid><title>{'&a;' * 200}</title></item></channel></rss>"
    ).encode()


def external_entity(system_id: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{system_id}">\n]>\n'
        '<rss version="2.0"><channel><title>&xxe;</title>'
        "<item><guid>1</guid><title>&xxe;</title></item></channel></rss>"
    ).encode()


def assert_refused(body: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        parse_feed(body, XML, BASE)
    assert info.value.code == "parse_error"
    assert "entities" in info.value.message
    assert time.monotonic() - started < 1.0


def test_billion_laughs_is_refused_without_expansion() -> None:
    assert_refused(billion_laughs())


def test_quadratic_blowup_entity_is_refused() -> None:
    assert_refused(quadratic_blowup())


def test_external_file_entity_is_refused() -> None:
    assert_refused(external_entity("file:///etc/passwd"))


def test_parameter_entity_is_refused() -> None:
    assert_refused(
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]>'
        b'<rss version="2.0"><channel><title>t</title></channel></rss>'
    )


def test_entity_declaration_in_utf16_document_is_refused() -> None:
    assert_refused(
        billion_laughs()
        .decode()
        .replace('"1.0"?>', '"1.0" encoding="utf-16"?>', 1)
        .encode("utf-16")
    )


def test_short_character_alias_entity_is_allowed() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>'
        b'<rss version="2.0"><channel><title>a&nbsp;b</title>'
        b"<item><guid>1</guid><title>x</title></item></channel></rss>"
    )
    assert parse_feed(body, XML, BASE).title == "a b"  # &nbsp; expanded, then spaces collapsed


def test_external_entity_over_http_is_never_fetched_end_to_end(server, limits) -> None:
    server.add("/x", b"SECRET", content_type="text/plain")
    url = server.add("/feed", external_entity(server.url("/x")))
    with pytest.raises(FetchError) as info:
        fetch_feed(url, limits)
    assert info.value.code == "parse_error"
    assert server.hits("/feed") == 1
    assert server.hits("/x") == 0


def test_external_dtd_in_doctype_is_never_fetched(server, limits) -> None:
    server.add("/evil.dtd", b'<!ENTITY x "SECRET">', content_type="application/xml-dtd")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{server.url("/evil.dtd")}">'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>ok</title></item></channel></rss>"
    ).encode()
    result = fetch_feed(server.add("/feed", body), limits)
    assert result.feed is not None and result.feed.items[0].title == "ok"
    assert server.hits("/evil.dtd") == 0


def test_body_naming_a_local_file_is_not_opened(tmp_path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(
        b'<rss version="2.0"><channel><title>SECRET</title>'
        b"<item><guid>1</guid></item></channel></rss>"
    )
    with pytest.raises(FetchError):
        parse_feed(str(secret).encode(), XML, BASE)


# -- facts about feedparser 6.0.x that the code above relies on or works around ----------


def test_fact_feedparser_drops_nested_entities_so_billion_laughs_does_not_expand() -> None:
    result = feedparser.parse(io.BytesIO(billion_laughs()))
    assert len(result.feed.get("title", "")) < 100


def test_fact_feedparser_does_not_resolve_external_entities(server) -> None:
    server.add("/x", b"SECRET", content_type="text/plain")
    result = feedparser.parse(io.BytesIO(external_entity(server.url("/x"))))
    assert "SECRET" not in str(result.feed.get("title"))
    assert server.hits("/x") == 0


def test_fact_feedparser_expands_large_safe_entities_quadratically() -> None:
    # Why xmlsafety refuses big entity values: 200 kB of input became 40 MB of title.
    result = feedparser.parse(io.BytesIO(quadratic_blowup()))
    assert len(result.entries[0].title) >= 10_000_000


def test_fact_feedparser_opens_bytes_that_name_a_local_file(tmp_path) -> None:
    # Why parse_feed hands feedparser a stream, never bare bytes.
    secret = tmp_path / "secret.xml"
    secret.write_bytes(b'<rss version="2.0"><channel><title>SECRET</title></channel></rss>')
    assert feedparser.parse(str(secret).encode()).feed.get("title") == "SECRET"


# -- the check reads what the parser will read, in any encoding -------------------------


@pytest.mark.parametrize("case", entity_bombs(), ids=lambda case: case.name)
def test_entity_bomb_is_refused_in_every_encoding_the_parser_accepts(case: Hostile) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        parse_feed(case.body, {"Content-Type": case.content_type}, BASE)
    assert info.value.code == "parse_error"
    assert time.monotonic() - started < 5.0  # far from the minutes an expansion takes


@pytest.mark.parametrize("case", entity_bombs(), ids=lambda case: case.name)
def test_fact_feedparser_decodes_each_encoding_of_the_bomb_to_its_doctype(case: Hostile) -> None:
    # Why each case matters: the parser reads the DOCTYPE that a Latin-1 sniffer misses.
    # Two mixed declarations make feedparser read NUL-laden garbage instead: no DOCTYPE.
    document = to_utf8(case.body, {"content-type": case.content_type})
    found = b"<!DOCTYPE rss [\n<!ENTITY big" in document.data
    assert found == (case.name not in READ_AS_GARBAGE)


def test_entity_declared_inside_a_comment_is_refused() -> None:
    # feedparser's DOCTYPE rewriting finds declarations by pattern, comments or not.
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!--\n<!ENTITY big "'
        + "A" * 1000
        + '">\n-->\n]>\n<rss version="2.0"><channel><title>&big;</title></channel></rss>'
    ).encode()
    assert_refused(body)


def test_unclosed_entity_declaration_is_refused() -> None:
    assert_refused(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x"')


def test_thousands_of_unclosed_declarations_are_refused_quickly() -> None:
    assert_refused(b'<?xml version="1.0"?><!DOCTYPE rss [' + b"<!ENTITY " * 500_000)


def test_declaration_longer_than_any_alias_is_refused_unread() -> None:
    assert_refused(
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "&#160;"' + b" " * 1000 + b">]>"
        b'<rss version="2.0"><channel><title>t</title></channel></rss>'
    )

"""Item and stream ids of the Google Reader API: long and short item ids, stream names."""

from __future__ import annotations

import pytest

from app.services import greader_ids as ids


def test_the_long_form_is_sixteen_hex_digits_and_reads_back() -> None:
    assert ids.long_item_id(255) == "tag:google.com,2005:reader/item/00000000000000ff"
    assert ids.parse_item_id(ids.long_item_id(255)) == 255


@pytest.mark.parametrize(
    ("raw", "item_id"),
    [
        ("tag:google.com,2005:reader/item/00000000148b9369", 0x148B9369),
        ("tag:google.com,2005:reader/item/2f2", 0x2F2),
        ("tag:google.com,2005:reader/item/00000000000000FF", 255),
        ("12345", 12345),
        (" 7 ", 7),
    ],
)
def test_item_ids_are_read_in_the_forms_apps_send(raw: str, item_id: int) -> None:
    assert ids.parse_item_id(raw) == item_id


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0",
        "-5",  # a signed short id of Google's: none of ours
        "tag:google.com,2005:reader/item/ffffffffffffffff",  # 2**64 - 1: past our ids
        "tag:google.com,2005:reader/item/",
        "tag:google.com,2005:reader/item/xyz",
        "tag:google.com,2005:reader/item/00000000000000001",  # 17 digits
        "12" * 12,
        "1e3",
        "²",
    ],
)
def test_anything_else_is_no_item_id(raw: str) -> None:
    with pytest.raises(ids.Invalid) as caught:
        ids.parse_item_id(raw)
    assert caught.value.code == "invalid_item_id" and caught.value.status == 400


@pytest.mark.parametrize(
    ("raw", "kind", "name"),
    [
        ("feed/https://a.example/feed?x=1", "feed", "https://a.example/feed?x=1"),
        ("feed/42", "feed", "42"),
        ("user/-/label/Tech / Rust", "label", "Tech / Rust"),
        ("user/7/label/Tech", "label", "Tech"),
        ("user/-/state/com.google/reading-list", "state", "reading-list"),
        ("user/7/state/com.google/read", "state", "read"),
        ("user/-/state/com.google/starred", "state", "starred"),
        ("user/-/state/com.google/kept-unread", "state", "kept-unread"),
    ],
)
def test_streams_are_read_for_the_person(raw: str, kind: str, name: str) -> None:
    assert ids.parse_stream(raw, 7) == ids.Stream(kind, name)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "feed/",
        "user/8/label/Tech",  # someone else's id
        "user/-/label/",
        "user/-/state/com.google/broadcast",
        "user/-/state/com.google/",
        "pop/topic",
        "splice/x",
        "feed/" + "x" * 3000,
    ],
)
def test_other_streams_are_refused(raw: str) -> None:
    with pytest.raises(ids.Invalid) as caught:
        ids.parse_stream(raw, 7)
    assert caught.value.code == "invalid_stream"


def test_stream_ids_are_written_with_the_persons_id() -> None:
    assert ids.feed_stream("https://a.example/feed") == "feed/https://a.example/feed"
    assert ids.label_stream(7, "Tech") == "user/7/label/Tech"
    assert ids.state_stream(7, ids.STARRED) == "user/7/state/com.google/starred"

"""Google Reader API streams, as apps page them: stream ids, ``n``, ``c`` continuations,
``r=o``, ``ot`` / ``nt``, ``xt`` / ``it``, and items by long or short id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from app.storage.db import Database
from app.storage.models import Item
from tests.conftest import add_feed_with_items
from tests.greader import (
    LONG,
    READ,
    READING_LIST,
    STARRED,
    Reader,
    in_folder,
    long_ids,
    refs,
)

# -- streams ----------------------------------------------------------------------------------


def test_a_continuation_stays_valid_while_items_arrive(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 6)
    first = reader.get("stream/items/ids", s=READING_LIST, n=3)
    assert refs(first) == [ids[5], ids[4], ids[3]]
    with db.session() as session:  # a newer item arrives between two pages
        session.execute(
            insert(Item).values(
                feed_id=feed_id,
                key="new",
                content_hash="h",
                sort_at=datetime(2027, 1, 1, tzinfo=UTC),
            )
        )
        session.commit()
    c = first.get_json()["continuation"]
    second = reader.get("stream/items/ids", s=READING_LIST, n=3, c=c)
    assert refs(second) == [ids[2], ids[1], ids[0]]
    assert "continuation" not in second.get_json()


def test_oldest_first_and_its_continuation(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 5)
    first = reader.get("stream/items/ids", s=READING_LIST, n=2, r="o")
    assert refs(first) == ids[:2]
    rest = reader.get(
        "stream/items/ids", s=READING_LIST, n=10, r="o", c=first.get_json()["continuation"]
    )
    assert refs(rest) == ids[2:]


def test_n_is_capped_at_1000_ids(reader: Reader, db: Database) -> None:
    add_feed_with_items(db, "https://a.example/feed", 1005)
    response = reader.get("stream/items/ids", s=READING_LIST, n=5000)
    assert len(refs(response)) == 1000
    assert "continuation" in response.get_json()


def test_ot_and_nt_bound_when_items_arrived(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 3)
    arrived = datetime(2026, 5, 1, tzinfo=UTC)
    with db.session() as session:
        for n, item_id in enumerate(ids):
            session.execute(
                update(Item)
                .where(Item.id == item_id)
                .values(first_seen_at=arrived + timedelta(days=n))
            )
        session.commit()
    day2 = int((arrived + timedelta(days=1)).timestamp())
    assert refs(reader.get("stream/items/ids", s=READING_LIST, ot=day2)) == [ids[2], ids[1]]
    assert refs(reader.get("stream/items/ids", s=READING_LIST, nt=day2)) == [ids[1], ids[0]]


def test_streams_of_a_feed_a_label_starred_and_read(reader: Reader, db: Database) -> None:
    a, a_ids = add_feed_with_items(db, "https://a.example/feed", 2)
    b, b_ids = add_feed_with_items(db, "https://b.example/feed", 2)
    in_folder(db, b, "Tech")
    reader.post("edit-tag", {"i": [str(a_ids[0]), str(b_ids[1])], "a": STARRED})
    reader.post("edit-tag", {"i": str(a_ids[1]), "a": READ})
    user_id = reader.get("user-info").get_json()["userId"]

    def ids_of(stream: str, **query: object) -> list[int]:
        return sorted(refs(reader.get("stream/items/ids", s=stream, **query)))

    assert ids_of("feed/https://a.example/feed") == a_ids
    assert ids_of(f"feed/{a}") == a_ids  # FreshRSS and Miniflux name feeds by id
    assert ids_of("user/-/label/Tech") == b_ids
    assert ids_of("user/-/label/Tech", includeAllDirectSubitems="true") == b_ids
    assert ids_of(READ, xt=READ) == []  # a contradiction is an empty stream
    assert ids_of(f"user/{user_id}/label/Tech") == b_ids
    assert ids_of(STARRED) == sorted([a_ids[0], b_ids[1]])
    assert ids_of(READ) == [a_ids[1]]
    assert ids_of("user/-/state/com.google/kept-unread") == sorted([a_ids[0], *b_ids])
    assert ids_of(STARRED, xt="user/-/label/Tech") == [a_ids[0]]
    assert ids_of(READING_LIST, it="user/-/label/Tech", xt=STARRED) == [b_ids[0]]
    assert ids_of("user/-/label/Nothing") == []
    assert ids_of("feed/https://unknown.example/feed") == []


def test_stream_contents_takes_a_feed_address_in_the_path(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 2)
    for path in (
        "feed/https://a.example/feed",
        "feed/https%3A%2F%2Fa.example%2Ffeed",
        "feed%2Fhttps%3A%2F%2Fa.example%2Ffeed",
    ):
        assert long_ids(reader.get(f"stream/contents/{path}")) == list(reversed(ids)), path
    assert long_ids(reader.get("stream/contents/")) == list(reversed(ids))
    body = reader.get("stream/contents/user/-/state/com.google/reading-list").get_json()
    assert body["id"] == READING_LIST and len(body["items"]) == 2


def test_items_contents_takes_long_short_and_unpadded_ids(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 3)
    sent = [f"{LONG}{ids[0]:016x}", str(ids[1]), f"{LONG}{ids[2]:x}"]
    response = reader.post("stream/items/contents", {"i": sent})
    assert sorted(long_ids(response)) == ids


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        ("stream/items/ids", {"s": READING_LIST, "n": "many"}, "invalid_n"),
        ("stream/items/ids", {"s": READING_LIST, "c": "not-ours"}, "invalid_continuation"),
        ("stream/items/ids", {"s": READING_LIST, "ot": "yesterday"}, "invalid_ot"),
        ("stream/items/ids", {"s": READING_LIST, "r": "x"}, "invalid_r"),
        ("stream/items/ids", {"s": "pop/culture"}, "invalid_stream"),
        ("stream/items/ids", {"s": "user/999999/state/com.google/starred"}, "invalid_stream"),
        ("stream/items/contents", {"i": "tag:google.com,2005:reader/item/zz"}, "invalid_item_id"),
        ("stream/items/contents", {"i": "-5"}, "invalid_item_id"),
    ],
)
def test_bad_arguments_are_400_with_a_json_error(
    reader: Reader, path: str, query: dict[str, str], code: str
) -> None:
    response = reader.get(path, **query)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code

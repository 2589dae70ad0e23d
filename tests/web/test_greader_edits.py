"""Google Reader API edits of read and starred state: ``edit-tag`` and
``mark-all-as-read``, as apps send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.storage.db import Database
from app.storage.models import Item
from tests.conftest import add_feed_with_items
from tests.greader import (
    READ,
    READING_LIST,
    STARRED,
    Reader,
    in_folder,
    refs,
)

# -- edits --------------------------------------------------------------------------------------


def test_edit_tag_stars_unstars_and_marks_unread(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 2)
    reader.post("edit-tag", {"i": [str(i) for i in ids], "a": [STARRED, READ]})
    assert sorted(refs(reader.get("stream/items/ids", s=STARRED))) == ids
    assert sorted(refs(reader.get("stream/items/ids", s=READ))) == ids
    reader.post("edit-tag", {"i": str(ids[0]), "r": [STARRED, READ]})
    reader.post("edit-tag", {"i": str(ids[1]), "a": "user/-/state/com.google/kept-unread"})
    assert refs(reader.get("stream/items/ids", s=STARRED)) == [ids[1]]
    assert refs(reader.get("stream/items/ids", s=READ)) == []


def test_edit_tag_accepts_labels_and_other_states_without_acting_on_them(
    reader: Reader, db: Database
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 1)
    response = reader.post(
        "edit-tag",
        {
            "i": str(ids[0]),
            "a": [
                "user/-/label/Later",
                "user/-/state/com.google/like",
                "user/-/state/com.google/tracking-kept-unread",
            ],
        },
    )
    assert response.status_code == 200
    assert refs(reader.get("stream/items/ids", s=READING_LIST, xt=READ)) == ids
    assert reader.get("tag/list").get_json()["tags"][1:] == []


def test_mark_all_as_read_up_to_ts_leaves_later_items_unread(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 4)
    refs_ = reader.get("stream/items/ids", s=READING_LIST, n=4).get_json()["itemRefs"]
    second = next(ref for ref in refs_ if int(ref["id"]) == ids[1])
    response = reader.post(
        "mark-all-as-read", {"s": "feed/https://a.example/feed", "ts": second["timestampUsec"]}
    )
    assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    assert refs(reader.get("stream/items/ids", s=READING_LIST, xt=READ)) == [ids[3], ids[2]]


def test_mark_all_as_read_reads_the_item_stamped_ts_to_the_microsecond(
    reader: Reader, db: Database
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 2)
    stamped = datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC)
    with db.session() as session:
        session.execute(update(Item).where(Item.id == ids[0]).values(sort_at=stamped))
        session.execute(
            update(Item)
            .where(Item.id == ids[1])
            .values(sort_at=stamped + timedelta(microseconds=1))
        )
        session.commit()
    refs_ = reader.get("stream/items/ids", s=READING_LIST).get_json()["itemRefs"]
    ts = next(ref["timestampUsec"] for ref in refs_ if int(ref["id"]) == ids[0])
    assert ts == "1782863999999999"
    reader.post("mark-all-as-read", {"s": READING_LIST, "ts": ts})
    assert refs(reader.get("stream/items/ids", s=READING_LIST, xt=READ)) == [ids[1]]


def test_mark_all_as_read_of_a_label_and_of_everything(reader: Reader, db: Database) -> None:
    a, a_ids = add_feed_with_items(db, "https://a.example/feed", 2)
    b, b_ids = add_feed_with_items(db, "https://b.example/feed", 2)
    in_folder(db, b, "Tech")
    reader.post("mark-all-as-read", {"s": "user/-/label/Tech"})
    assert sorted(refs(reader.get("stream/items/ids", s=READING_LIST, xt=READ))) == a_ids
    reader.post("mark-all-as-read", {"s": READING_LIST})
    assert refs(reader.get("stream/items/ids", s=READING_LIST, xt=READ)) == []


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "form", "code"),
    [
        ("edit-tag", {"a": READ}, "missing_i"),
        ("edit-tag", {"i": "1", "a": "user/-/state/com.google/reading-list"}, "invalid_tag"),
        ("mark-all-as-read", {"s": READING_LIST, "ts": "soon"}, "invalid_ts"),
        ("mark-all-as-read", {}, "invalid_stream"),
        ("subscription/edit", {"ac": "subscribe"}, "missing_s"),
        ("subscription/edit", {"ac": "rename", "s": "feed/x"}, "invalid_ac"),
        ("subscription/quickadd", {"quickadd": "not a url"}, "invalid_url"),
        ("subscription/import", None, "invalid_opml"),
    ],
)
def test_bad_edits_are_400_with_a_json_error(
    reader: Reader, path: str, form: dict[str, str] | None, code: str
) -> None:
    response = reader.post(path, form)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code

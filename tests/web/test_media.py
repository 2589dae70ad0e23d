"""Enclosures in the reading pane and in the JSON API (app/web/media.py)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import update

from app.storage.db import Database
from app.storage.models import Item
from app.web.media import enclosures_of, human_size
from tests.conftest import add_feed_with_items

AUDIO = {"url": "https://cdn.example/ep1.mp3", "type": "audio/mpeg", "length": 48213000}
VIDEO = {"url": "https://cdn.example/ep1.mp4", "type": "video/mp4", "length": None}
PDF = {"url": "https://cdn.example/notes.pdf", "type": "application/pdf", "length": 730000}
HOSTILE = [
    {"url": "javascript:alert(1)", "type": "audio/mpeg", "length": 1},
    {"url": "data:audio/mpeg;base64,AAAA", "type": "audio/mpeg", "length": 1},
    {"url": "https://e.example/" + "a" * 5000, "type": "audio/mpeg", "length": 1},
    {"url": 'https://e.example/"><script>alert(1)</script>', "type": "audio/mpeg", "length": 1},
    {"url": "https://e.example/x.mp3", "type": '"><img src=x onerror=alert(1)>', "length": -1},
    "not an object",
]


def _item_with(db: Database, enclosures: list[object]) -> tuple[int, int]:
    feed_id, item_ids = add_feed_with_items(db, "https://a.example/", 1)
    with db.session() as session:
        session.execute(update(Item).where(Item.id == item_ids[0]).values(enclosures=enclosures))
        session.commit()
    return feed_id, item_ids[0]


def test_the_pane_plays_audio_and_video_and_links_other_files(
    client: FlaskClient, db: Database
) -> None:
    _, item_id = _item_with(db, [AUDIO, VIDEO, PDF])
    pane = client.get(f"/items/{item_id}?partial=pane").get_data(as_text=True)
    assert f'<audio controls preload="none" src="{AUDIO["url"]}"></audio>' in pane
    assert f'<video controls preload="none" src="{VIDEO["url"]}"></video>' in pane
    assert pane.count("<audio") == 1 and pane.count("<video") == 1
    links = re.findall(r'<a class="enclosure-link" href="([^"]+)"', pane)
    assert links == [AUDIO["url"], VIDEO["url"], PDF["url"]]
    assert "audio/mpeg · 48.2 MB" in pane and "application/pdf · 730.0 KB" in pane
    assert ">ep1.mp3</a>" in pane


def test_the_whole_item_page_shows_them_too(client: FlaskClient, db: Database) -> None:
    _, item_id = _item_with(db, [AUDIO])
    assert "<audio controls" in client.get(f"/items/{item_id}").get_data(as_text=True)


def test_hostile_stored_values_never_reach_the_page(client: FlaskClient, db: Database) -> None:
    _, item_id = _item_with(db, HOSTILE)
    pane = client.get(f"/items/{item_id}?partial=pane").get_data(as_text=True)
    assert "javascript:" not in pane and "data:audio" not in pane
    assert "<script>alert" not in pane and "onerror" not in pane and "a" * 5000 not in pane
    # The one with a clean URL stays, without its bad type and length.
    assert re.findall(r'<a class="enclosure-link" href="([^"]+)"', pane) == [
        "https://e.example/x.mp3"
    ]
    assert "unknown type" in pane and "<audio" not in pane


def test_an_item_without_enclosures_shows_no_attachments(client: FlaskClient, db: Database) -> None:
    _, item_id = _item_with(db, [])
    assert 'class="enclosures"' not in client.get(f"/items/{item_id}").get_data(as_text=True)


def test_the_river_api_and_one_item_carry_the_enclosures(client: FlaskClient, db: Database) -> None:
    _, item_id = _item_with(db, [AUDIO, HOSTILE[0]])
    river = client.get("/api/items").get_json()
    assert river["items"][0]["enclosures"] == [AUDIO]
    assert client.get(f"/api/items/{item_id}").get_json()["item"]["enclosures"] == [AUDIO]


def test_a_feeds_item_list_carries_them_and_none_is_an_empty_list(
    client: FlaskClient, db: Database
) -> None:
    feed_id, _ = _item_with(db, [VIDEO])
    items = client.get(f"/api/feeds/{feed_id}/items").get_json()["items"]
    assert items[0]["enclosures"] == [VIDEO]
    other, _ = add_feed_with_items(db, "https://b.example/", 1, "b")
    assert client.get(f"/api/feeds/{other}/items").get_json()["items"][0]["enclosures"] == []


def test_sizes_read_as_people_expect() -> None:
    assert [human_size(n) for n in (512, 730_000, 48_213_000, 2_500_000_000)] == [
        "512 bytes",
        "730.0 KB",
        "48.2 MB",
        "2.5 GB",
    ]


def test_a_kind_comes_from_the_type() -> None:
    kinds = [e.kind for e in enclosures_of([AUDIO, VIDEO, PDF, {"url": AUDIO["url"]}])]
    assert kinds == ["audio", "video", "file", "file"]

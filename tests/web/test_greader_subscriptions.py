"""Adding, editing, removing, importing and exporting subscriptions through the Google Reader
API: a subscribe is a submission like POST /feeds (same checks, limits and queue), and the
workers fetch it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from redis import Redis
from sqlalchemy import func, select

from app.config import Settings
from app.extensions import feedqueue
from app.opml import OpmlEntry, build_opml, parse_opml
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState, Folder, Subscription
from tests.conftest import add_feed_with_items
from tests.feedserver import FeedServer
from tests.greader import READ, READING_LIST, Reader, in_folder, long_ids, refs, sign_in

SUBMISSIONS = "rq:queue:feedqueue-test-submissions"


def _subscriptions(reader: Reader) -> dict[str, dict]:
    subs = reader.get("subscription/list", output="json").get_json()["subscriptions"]
    return {sub["id"]: sub for sub in subs}


def app_settings(app: Flask) -> Settings:
    return feedqueue.of(app).settings


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_subscribe_files_titles_and_queues_the_feed_as_post_feeds_does(
    reader: Reader, db: Database, redis: Redis
) -> None:
    response = reader.post(
        "subscription/edit",
        {
            "ac": "subscribe",
            "s": "feed/https://new.example/feed",
            "t": "New",
            "a": "user/-/label/News",
        },
    )
    assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    sub = _subscriptions(reader)["feed/https://new.example/feed"]
    assert sub["title"] == "New"
    assert [c["label"] for c in sub["categories"]] == ["News"]
    with db.session() as session:
        fetch = session.scalars(select(Fetch)).one()
        assert fetch.state == FetchState.QUEUED
    assert redis.llen(SUBMISSIONS) == 1


def test_quickadd_answers_the_feeds_stream_id_and_queues_its_fetch(
    reader: Reader, db: Database, redis: Redis
) -> None:
    response = reader.post("subscription/quickadd", {"quickadd": "https://new.example/feed"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["numResults"] == 1 and body["streamId"] == "feed/https://new.example/feed"
    assert body["query"] == "https://new.example/feed"
    assert "feed/https://new.example/feed" in _subscriptions(reader)
    assert _count(db, Fetch) == 1 and redis.llen(SUBMISSIONS) == 1


def test_quickadd_refuses_a_private_address_as_post_feeds_does(
    make_app: Callable[..., Flask], db: Database
) -> None:
    app = make_app(fetch_allow_private_networks=False)
    reader = sign_in(app.test_client(), db, app_settings(app))
    response = reader.post("subscription/quickadd", {"quickadd": "http://127.0.0.1/feed"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "blocked_address"
    assert _count(db, Feed) == 0


def test_subscribes_count_against_the_submission_rate_limit(
    make_app: Callable[..., Flask], db: Database
) -> None:
    app = make_app(submit_rate_limit="1 per minute")
    reader = sign_in(app.test_client(), db, app_settings(app))
    first = reader.post("subscription/quickadd", {"quickadd": "https://a.example/feed"})
    assert first.status_code == 200
    second = reader.post(
        "subscription/edit", {"ac": "subscribe", "s": "feed/https://b.example/feed"}
    )
    assert second.status_code == 429
    assert second.get_json()["error"]["code"] == "rate_limited"
    assert _count(db, Feed) == 1


def test_a_subscribe_into_a_full_queue_is_503_and_saves_nothing(
    make_app: Callable[..., Flask], db: Database
) -> None:
    app = make_app(queue_max_jobs=1)
    reader = sign_in(app.test_client(), db, app_settings(app))
    assert (
        reader.post("subscription/quickadd", {"quickadd": "https://a.example/feed"}).status_code
        == 200
    )
    full = reader.post("subscription/quickadd", {"quickadd": "https://b.example/feed"})
    assert full.status_code == 503
    assert full.get_json()["error"]["code"] == "queue_full"
    assert "Retry-After" in full.headers
    assert _count(db, Feed) == 1


def test_edit_renames_moves_and_takes_a_feed_out_of_its_label(reader: Reader, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/feed", 1)
    in_folder(db, feed_id, "Old")
    stream = "feed/https://a.example/feed"
    reader.post(
        "subscription/edit", {"ac": "edit", "s": stream, "t": "Renamed", "a": "user/-/label/New"}
    )
    sub = _subscriptions(reader)[stream]
    assert sub["title"] == "Renamed" and [c["label"] for c in sub["categories"]] == ["New"]
    reader.post("subscription/edit", {"ac": "edit", "s": stream, "r": "user/-/label/Other"})
    assert [c["label"] for c in _subscriptions(reader)[stream]["categories"]] == ["New"]
    reader.post("subscription/edit", {"ac": "edit", "s": stream, "r": "user/-/label/New"})
    assert _subscriptions(reader)[stream]["categories"] == []


def test_unsubscribe_by_address_or_id(reader: Reader, db: Database) -> None:
    a, _ = add_feed_with_items(db, "https://a.example/feed", 1)
    b, _ = add_feed_with_items(db, "https://b.example/feed", 1)
    response = reader.post(
        "subscription/edit",
        {"ac": "unsubscribe", "s": ["feed/https://a.example/feed", f"feed/{b}"]},
    )
    assert response.status_code == 200
    assert _subscriptions(reader) == {}
    assert _count(db, Subscription) == 0


def test_export_is_the_subscriptions_as_opml_in_their_folders(reader: Reader, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/feed", 1, title="A")
    in_folder(db, feed_id, "Tech")
    response = reader.get("subscription/export")
    assert response.status_code == 200 and response.mimetype == "text/xml"
    entries = parse_opml(response.data).entries
    assert [(e.xml_url, e.folder) for e in entries] == [("https://a.example/feed", ("Tech",))]


def test_import_subscribes_to_each_feed_of_the_opml_body(
    reader: Reader, db: Database, redis: Redis
) -> None:
    opml = build_opml(
        [
            OpmlEntry(0, "A", "https://a.example/feed", folder=("Tech",)),
            OpmlEntry(0, "B", "https://b.example/feed"),
        ]
    )
    response = reader.post("subscription/import", opml)
    assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    subs = _subscriptions(reader)
    assert set(subs) == {"feed/https://a.example/feed", "feed/https://b.example/feed"}
    assert [c["label"] for c in subs["feed/https://a.example/feed"]["categories"]] == ["Tech"]
    assert redis.llen(SUBMISSIONS) == 2
    assert _count(db, Folder) == 1


def test_a_quickadd_feed_is_fetched_by_a_worker_and_readable_through_the_api(
    reader: Reader, feed_server: FeedServer, run_worker_burst: Callable
) -> None:
    url = feed_server.add_fixture("/rss.xml", "example-rss20.xml")
    added = reader.post("subscription/quickadd", {"quickadd": url}).get_json()
    assert refs(reader.get("stream/items/ids", s=added["streamId"])) == []
    run_worker_burst()
    unread = refs(reader.get("stream/items/ids", s=READING_LIST, xt=READ))
    assert len(unread) == 3
    items = reader.get(f"stream/contents/{added['streamId']}").get_json()["items"]
    assert sorted(i["title"] for i in items) == ["First post", "Second post", "Third post"]
    assert sorted(long_ids(reader.get(f"stream/contents/{added['streamId']}"))) == sorted(unread)
    assert _subscriptions(reader)[added["streamId"]]["title"] == "Example RSS"


def test_rename_tag_renames_the_folder(reader: Reader, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/feed", 1)
    in_folder(db, feed_id, "Old")
    response = reader.post("rename-tag", {"s": "user/-/label/Old", "dest": "user/-/label/New"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    sub = _subscriptions(reader)["feed/https://a.example/feed"]
    assert [c["label"] for c in sub["categories"]] == ["New"]
    missing = reader.post("rename-tag", {"s": "user/-/label/Old", "dest": "user/-/label/X"})
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "label_not_found"


def test_disable_tag_removes_the_folder_and_keeps_its_feeds(reader: Reader, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/feed", 1)
    in_folder(db, feed_id, "Old")
    assert reader.post("disable-tag", {"s": "user/-/label/Old"}).status_code == 200
    assert _subscriptions(reader)["feed/https://a.example/feed"]["categories"] == []
    assert reader.get("tag/list").get_json()["tags"][1:] == []
    assert _count(db, Folder) == 0


def test_a_subscribe_with_an_overlong_title_is_refused_before_anything_is_queued(
    reader: Reader, db: Database, redis: Redis
) -> None:
    response = reader.post(
        "subscription/edit",
        {"ac": "subscribe", "s": "feed/https://new.example/feed", "t": "x" * 501},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_title"
    assert _count(db, Feed) == 0 and redis.llen(SUBMISSIONS) == 0

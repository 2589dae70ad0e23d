"""The Fever API, with requests as Fever clients (Reeder, ReadKit, Fiery Feeds) send them:
a form-encoded POST carrying ``api_key``, the flags in the query string.

The app runs with CSRF on, as in production: the API has its own key and needs no token.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, update

from app.config import Settings
from app.services import app_passwords
from app.storage.db import Database
from app.storage.icons import save_icon
from app.storage.models import Feed, Item
from app.storage.subscriptions import ensure_folder, update_subscription
from tests.conftest import PASSWORD, add_user, fever_key_of, sign_in
from tests.storage.rows import subscribe

PATHS = ("/api/fever.php", "/fever/")
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app().test_client()


@pytest.fixture
def key(db: Database, settings: Settings) -> str:
    return fever_key_of(db, settings)


def add_feed(
    db: Database, url: str, count: int, *, username: str = "reader", folder: str | None = None
) -> tuple[int, list[int]]:
    """A feed with ``count`` items an hour apart, followed by ``username`` with every item
    unread (in ``folder`` when given)."""
    user = add_user(db, username)
    with db.session() as session:
        feed = Feed(url=url, current_url=url, title=f"title of {url}", site_url=url)
        session.add(feed)
        session.flush()
        ids = list(
            session.scalars(
                insert(Item).returning(Item.id),
                [
                    {
                        "feed_id": feed.id,
                        "key": f"k{n}",
                        "title": f"item {n}",
                        "url": f"{url}{n}",
                        "content_html": f"<p>body {n}</p>",
                        "content_hash": "h",
                        "sort_at": BASE + timedelta(hours=n),
                    }
                    for n in range(count)
                ],
            )
        )
        folder_id = ensure_folder(session, user.id, folder) if folder else None
        subscribe(session, user.id, feed.id, unread_recent=1000, folder_id=folder_id)
        session.commit()
        return feed.id, ids


def fever(client: FlaskClient, key: str, query: str = "", path: str = PATHS[0], **form: object):
    """POST ``?api&<query>`` with the key and ``form`` as a form-encoded body."""
    url = f"{path}?api&{query}" if query else f"{path}?api"
    response = client.post(url, data={"api_key": key, **form})
    assert response.mimetype == "application/json"
    return response


def ids_of(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_right_key_authenticates_on_both_paths(client: FlaskClient, key: str, path: str) -> None:
    body = fever(client, key, path=path).get_json()
    assert body["api_version"] == 3 and body["auth"] == 1
    assert body["last_refreshed_on_time"] == 0  # no feed fetched yet


@pytest.mark.parametrize("path", PATHS)
def test_a_wrong_key_gets_auth_0_not_an_error_page(
    client: FlaskClient, key: str, path: str
) -> None:
    for wrong in ("0" * 32, "not a key", "", key[:-1] + "x"):
        response = fever(client, wrong, "items", path=path)
        assert response.status_code == 200
        assert response.get_json() == {"api_version": 3, "auth": 0}


def test_the_key_may_come_in_upper_case_or_in_the_query(client: FlaskClient, key: str) -> None:
    assert fever(client, key.upper()).get_json()["auth"] == 1
    assert client.get(f"/fever/?api&api_key={key}").get_json()["auth"] == 1


def test_the_login_password_is_never_a_fever_key(client: FlaskClient, key: str) -> None:
    login_key = app_passwords.fever_key("reader", PASSWORD)
    assert fever(client, login_key).get_json()["auth"] == 0


def test_a_revoked_app_password_stops_working(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    user = add_user(db, "reader")
    with db.session() as session:
        created = app_passwords.create(session, settings, user, "phone")
        key = app_passwords.fever_key("reader", created.password)
        assert fever(client, key).get_json()["auth"] == 1
        assert app_passwords.revoke(session, user, created.row.id)
    assert fever(client, key).get_json()["auth"] == 0


def test_the_session_cookie_is_no_fever_credential(
    make_app: Callable[..., Flask], db: Database
) -> None:
    add_feed(db, "https://a.example/", 1)
    browser = sign_in(make_app().test_client(), add_user(db, "reader"))
    body = browser.post("/api/fever.php?api&items", data={}).get_json()
    assert body == {"api_version": 3, "auth": 0}


def test_failed_keys_are_rate_limited_and_then_even_a_right_key_waits(
    make_app: Callable[..., Flask], key: str
) -> None:
    client = make_app(login_rate_limit="2 per minute").test_client()
    codes = [fever(client, "f" * 32).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = fever(client, key)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert limited.get_json() == {"api_version": 3, "auth": 0}


def test_a_request_without_a_key_is_no_failed_attempt(
    make_app: Callable[..., Flask], key: str
) -> None:
    client = make_app(login_rate_limit="1 per minute").test_client()
    for _ in range(3):
        assert client.post("/api/fever.php?api").get_json()["auth"] == 0
    assert fever(client, key).get_json()["auth"] == 1


# -- reading ---------------------------------------------------------------------------------


def test_groups_are_folders_and_feeds_groups_says_which_feeds_are_in_each(
    client: FlaskClient, db: Database, key: str
) -> None:
    news, _ = add_feed(db, "https://news.example/", 1, folder="News")
    tech, _ = add_feed(db, "https://tech.example/", 1, folder="News")
    loose, _ = add_feed(db, "https://loose.example/", 1)
    user = add_user(db, "reader")
    with db.session() as session:
        parent = ensure_folder(session, user.id, "News")
        child = ensure_folder(session, user.id, "Local", parent)
        update_subscription(session, user.id, tech, {"folder_id": child})
        session.commit()
    body = fever(client, key, "groups").get_json()
    assert body["groups"] == [
        {"id": parent, "title": "News"},
        {"id": child, "title": "News / Local"},
    ]
    assert body["feeds_groups"] == [
        {"group_id": parent, "feed_ids": str(news)},
        {"group_id": child, "feed_ids": str(tech)},
    ]
    assert "feeds" not in body and loose


def test_feeds_lists_each_subscription_with_the_persons_title(
    client: FlaskClient, db: Database, key: str
) -> None:
    feed_id, _ = add_feed(db, "https://a.example/", 1)
    fetched = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    user = add_user(db, "reader")
    with db.session() as session:
        update_subscription(session, user.id, feed_id, {"title": "Mine"})
        session.execute(
            update(Feed)
            .where(Feed.id == feed_id)
            .values(last_success_at=fetched, last_fetched_at=fetched)
        )
        session.commit()
    body = fever(client, key, "feeds").get_json()
    assert body["feeds"] == [
        {
            "id": feed_id,
            "favicon_id": 0,
            "title": "Mine",
            "url": "https://a.example/",
            "site_url": "https://a.example/",
            "is_spark": 0,
            "last_updated_on_time": int(fetched.timestamp()),
        }
    ]
    assert body["feeds_groups"] == []
    assert body["last_refreshed_on_time"] == int(fetched.timestamp())


def test_favicons_and_links_are_empty_lists(client: FlaskClient, key: str) -> None:
    body = fever(client, key, "favicons&links").get_json()
    assert body["favicons"] == [] and body["links"] == []


def test_items_page_by_since_id_fifty_at_a_time_until_empty(
    client: FlaskClient, db: Database, key: str
) -> None:
    feed_id, ids = add_feed(db, "https://a.example/", 120)
    seen: list[int] = []
    since = 0
    while True:
        body = fever(client, key, f"items&since_id={since}").get_json()
        assert body["total_items"] == 120
        page = [item["id"] for item in body["items"]]
        if not page:
            break
        assert len(page) <= 50 and page == sorted(page)
        seen += page
        since = page[-1]
    assert seen == ids
    first = fever(client, key, f"items&with_ids={ids[3]}").get_json()["items"][0]
    assert first == {
        "id": ids[3],
        "feed_id": feed_id,
        "title": "item 3",
        "author": "",
        "html": "<p>body 3</p>",
        "url": "https://a.example/3",
        "is_saved": 0,
        "is_read": 0,
        "created_on_time": int((BASE + timedelta(hours=3)).timestamp()),
    }


def test_items_page_backwards_by_max_id_from_the_newest(
    client: FlaskClient, db: Database, key: str
) -> None:
    _, ids = add_feed(db, "https://a.example/", 60)
    newest = [i["id"] for i in fever(client, key, "items&max_id=0").get_json()["items"]]
    assert newest == ids[::-1][:50]
    older = [i["id"] for i in fever(client, key, f"items&max_id={newest[-1]}").get_json()["items"]]
    assert older == ids[::-1][50:]


def test_items_without_paging_start_from_the_oldest(
    client: FlaskClient, db: Database, key: str
) -> None:
    _, ids = add_feed(db, "https://a.example/", 3)
    assert [i["id"] for i in fever(client, key, "items").get_json()["items"]] == ids


def test_with_ids_gives_those_items_and_at_most_fifty(
    client: FlaskClient, db: Database, key: str
) -> None:
    _, ids = add_feed(db, "https://a.example/", 60)
    picked = f"{ids[5]},{ids[1]}"
    got = fever(client, key, f"items&with_ids={picked}").get_json()["items"]
    assert [i["id"] for i in got] == [ids[1], ids[5]]
    fifty = ",".join(str(i) for i in ids[:50])
    assert len(fever(client, key, f"items&with_ids={fifty}").get_json()["items"]) == 50
    over = fever(client, key, "items&with_ids=" + ",".join(str(i) for i in ids[:51]))
    assert over.status_code == 400
    assert over.get_json()["error"]["code"] == "invalid_with_ids"


def test_unread_and_saved_item_ids_are_comma_separated_strings(
    client: FlaskClient, db: Database, key: str
) -> None:
    _, ids = add_feed(db, "https://a.example/", 3)
    fever(client, key, mark="item", **{"as": "read"}, id=ids[0])
    fever(client, key, mark="item", **{"as": "saved"}, id=ids[2])
    body = fever(client, key, "unread_item_ids&saved_item_ids").get_json()
    assert body["unread_item_ids"] == f"{ids[1]},{ids[2]}"
    assert body["saved_item_ids"] == str(ids[2])


def test_nothing_unread_or_saved_is_an_empty_string(client: FlaskClient, key: str) -> None:
    body = fever(client, key, "unread_item_ids&saved_item_ids").get_json()
    assert body["unread_item_ids"] == "" and body["saved_item_ids"] == ""


# -- marking ---------------------------------------------------------------------------------


def test_mark_an_item_read_unread_saved_and_unsaved(
    client: FlaskClient, db: Database, key: str
) -> None:
    _, ids = add_feed(db, "https://a.example/", 2)
    read = fever(client, key, mark="item", **{"as": "read"}, id=ids[0]).get_json()
    assert ids_of(read["unread_item_ids"]) == [ids[1]]
    unread = fever(client, key, mark="item", **{"as": "unread"}, id=ids[0]).get_json()
    assert ids_of(unread["unread_item_ids"]) == ids
    saved = fever(client, key, mark="item", **{"as": "saved"}, id=ids[1]).get_json()
    assert ids_of(saved["saved_item_ids"]) == [ids[1]]
    item = fever(client, key, f"items&with_ids={ids[1]}").get_json()["items"][0]
    assert item["is_saved"] == 1 and item["is_read"] == 0
    unsaved = fever(client, key, mark="item", **{"as": "unsaved"}, id=ids[1]).get_json()
    assert unsaved["saved_item_ids"] == ""


def test_mark_a_feed_read_before_a_time_leaves_newer_items_unread(
    client: FlaskClient, db: Database, key: str
) -> None:
    feed_id, ids = add_feed(db, "https://a.example/", 4)
    other, other_ids = add_feed(db, "https://b.example/", 1)
    before = int((BASE + timedelta(hours=2)).timestamp())
    body = fever(client, key, mark="feed", **{"as": "read"}, id=feed_id, before=before).get_json()
    assert ids_of(body["unread_item_ids"]) == [ids[2], ids[3], other_ids[0]]
    everything = fever(client, key, mark="feed", **{"as": "read"}, id=feed_id).get_json()
    assert ids_of(everything["unread_item_ids"]) == other_ids and other


def test_mark_a_group_read_covers_its_sub_folders_and_group_0_everything(
    client: FlaskClient, db: Database, key: str
) -> None:
    _, news = add_feed(db, "https://news.example/", 2, folder="News")
    local, local_ids = add_feed(db, "https://local.example/", 1)
    _, loose = add_feed(db, "https://loose.example/", 1)
    user = add_user(db, "reader")
    with db.session() as session:
        parent = ensure_folder(session, user.id, "News")
        child = ensure_folder(session, user.id, "Local", parent)
        update_subscription(session, user.id, local, {"folder_id": child})
        session.commit()
    now = int(datetime.now(UTC).timestamp())
    body = fever(client, key, mark="group", **{"as": "read"}, id=parent, before=now).get_json()
    assert ids_of(body["unread_item_ids"]) == loose
    body = fever(client, key, mark="group", **{"as": "read"}, id=0, before=now).get_json()
    assert body["unread_item_ids"] == "" and news and local_ids


def test_an_item_marked_read_in_fever_leaves_the_unread_river(
    make_app: Callable[..., Flask], db: Database, key: str
) -> None:
    app = make_app()
    _, ids = add_feed(db, "https://a.example/", 2)
    fever(app.test_client(), key, mark="item", **{"as": "read"}, id=ids[1])
    browser = sign_in(app.test_client(), add_user(db, "reader"))
    river = browser.get("/api/items?unread=true", headers={"Accept": "application/json"})
    assert [item["id"] for item in river.get_json()["items"]] == [ids[0]]


@pytest.mark.parametrize(
    ("query", "form", "code"),
    [
        ("items&since_id=abc", {}, "invalid_since_id"),
        ("items&max_id=-1", {}, "invalid_max_id"),
        ("items&with_ids=1,x", {}, "invalid_with_ids"),
        ("", {"mark": "everything", "as": "read", "id": "1"}, "invalid_mark"),
        ("", {"mark": "item", "as": "burnt", "id": "1"}, "invalid_as"),
        ("", {"mark": "item", "as": "read", "id": "one"}, "invalid_id"),
        ("", {"mark": "item", "as": "read"}, "invalid_id"),
        ("", {"mark": "feed", "as": "saved", "id": "1"}, "invalid_as"),
        ("", {"mark": "feed", "as": "read", "id": "1", "before": "soon"}, "invalid_before"),
        ("", {"mark": "feed", "as": "read", "id": "1", "before": str(2**41)}, "invalid_before"),
        ("", {"mark": "item", "as": "read", "id": str(2**64)}, "invalid_id"),
    ],
)
def test_bad_arguments_get_400_with_a_code_and_change_nothing(
    client: FlaskClient, db: Database, key: str, query: str, form: dict[str, str], code: str
) -> None:
    _, ids = add_feed(db, "https://a.example/", 1)
    response = fever(client, key, query, **form)
    assert response.status_code == 400
    body = response.get_json()
    assert body["auth"] == 1 and body["error"]["code"] == code
    assert fever(client, key, "unread_item_ids").get_json()["unread_item_ids"] == str(ids[0])


# -- one person's key, another person's items ------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_one_persons_key_never_reads_or_marks_anothers_items(
    client: FlaskClient, db: Database, settings: Settings, path: str
) -> None:
    alice_feed, alice_ids = add_feed(db, "https://alice.example/", 2, username="alice", folder="A")
    bob_key = fever_key_of(db, settings, "bob")
    alice_key = fever_key_of(db, settings, "alice")
    with db.session() as session:
        alice_folder = ensure_folder(session, add_user(db, "alice").id, "A")
        session.commit()
    everything = "groups&feeds&items&unread_item_ids&saved_item_ids"
    seen = fever(client, bob_key, everything, path=path).get_json()
    assert seen["groups"] == seen["feeds"] == seen["items"] == seen["feeds_groups"] == []
    assert seen["unread_item_ids"] == seen["saved_item_ids"] == "" and seen["total_items"] == 0
    with_ids = ",".join(map(str, alice_ids))
    assert fever(client, bob_key, f"items&with_ids={with_ids}", path=path).get_json()["items"] == []
    for form in (
        {"mark": "item", "as": "read", "id": alice_ids[0]},
        {"mark": "item", "as": "saved", "id": alice_ids[1]},
        {"mark": "feed", "as": "read", "id": alice_feed},
        {"mark": "group", "as": "read", "id": alice_folder},
        {"mark": "group", "as": "read", "id": 0},
    ):
        assert fever(client, bob_key, path=path, **form).status_code == 200
    alices = fever(client, alice_key, "unread_item_ids&saved_item_ids", path=path).get_json()
    assert ids_of(alices["unread_item_ids"]) == alice_ids and alices["saved_item_ids"] == ""


def test_favicons_carry_each_followed_feeds_icon_as_a_data_url(
    client: FlaskClient, db: Database, key: str
) -> None:
    with_icon, _ = add_feed(db, "https://a.example/", 1)
    without_icon, _ = add_feed(db, "https://b.example/", 1)
    others, _ = add_feed(db, "https://c.example/", 1, username="someone")
    png = b"\x89PNG\r\n\x1a\n1234"
    with db.session() as session:
        for feed_id in (with_icon, others):
            save_icon(
                session,
                feed_id,
                declared_url=None,
                now=BASE,
                found=("https://a.example/i.png", "image/png", png, "f" * 64),
            )
        session.commit()
    body = fever(client, key, "feeds&favicons").get_json()
    assert body["favicons"] == [
        {"id": with_icon, "data": "image/png;base64," + base64.b64encode(png).decode()}
    ]
    favicon_ids = {feed["id"]: feed["favicon_id"] for feed in body["feeds"]}
    assert favicon_ids == {with_icon: with_icon, without_icon: 0}

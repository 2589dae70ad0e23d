"""The Google Reader API, with requests as the apps send them (NetNewsWire, Reeder, Read
You, FeedMe; the request shapes follow the API notes kept by FreshRSS and Miniflux):
form-encoded ClientLogin, then ``Authorization: GoogleLogin auth=<token>`` on every
call, repeated ``i=`` / ``a=`` / ``r=`` arguments, and ``T`` on edits.

The app runs with CSRF on, as in production: the API has its own token and needs none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.config import Settings
from app.services import app_passwords
from app.storage.db import Database
from app.storage.models import AppPassword
from app.storage.subscriptions import ensure_folder
from tests.conftest import PASSWORD, add_feed_with_items, add_user, signed_in
from tests.conftest import sign_in as sign_in_web_as
from tests.greader import (
    API,
    LONG,
    PREFIXES,
    READ,
    READING_LIST,
    STARRED,
    Reader,
    app_password,
    client_login,
    in_folder,
    long_ids,
    refs,
    sign_in,
)


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app().test_client()


# -- ClientLogin and tokens ----------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_client_login_with_an_app_password_answers_sid_lsid_and_auth(
    client: FlaskClient, db: Database, settings: Settings, prefix: str
) -> None:
    response = client_login(client, "reader", app_password(db, settings), prefix)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).split("\n")
    assert [line.split("=", 1)[0] for line in lines] == ["SID", "LSID", "Auth", ""]
    token = lines[2].removeprefix("Auth=")
    me = Reader(client, token, prefix).get("user-info")
    assert me.status_code == 200 and me.get_json()["userName"] == "reader"


def test_client_login_takes_a_get_and_the_user_name_in_any_case(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    password = app_password(db, settings)
    response = client.get(
        "/accounts/ClientLogin", query_string={"Email": "READER", "Passwd": password}
    )
    assert response.status_code == 200
    assert "Auth=" in response.get_data(as_text=True)


def test_client_login_answers_json_when_asked(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    response = client.post(
        "/accounts/ClientLogin?output=json",
        data={"Email": "reader", "Passwd": app_password(db, settings)},
    )
    body = response.get_json()
    assert set(body) == {"SID", "LSID", "Auth"} and body["Auth"]


def test_client_login_never_takes_the_login_password(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    app_password(db, settings)
    response = client_login(client, "reader", PASSWORD)
    assert response.status_code == 401
    assert response.get_data(as_text=True) == "Error=BadAuthentication\n"


def test_client_login_refuses_an_app_password_under_another_user_name(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    add_user(db, "bob")
    response = client_login(client, "bob", app_password(db, settings, "reader"))
    assert response.status_code == 401


def test_failed_client_logins_count_against_the_login_rate_limit(
    make_app: Callable[..., Flask], db: Database, settings: Settings
) -> None:
    client = make_app(login_rate_limit="2 per minute").test_client()
    password = app_password(db, settings)
    assert client_login(client, "reader", "wrong-1").status_code == 401
    assert client_login(client, "reader", "wrong-2").status_code == 401
    over = client_login(client, "reader", password)
    assert over.status_code == 429 and over.headers["Retry-After"] == "60"


def test_every_call_without_or_with_a_bad_token_is_401(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    app = client.application
    good = sign_in(client, db, settings).token
    forged = good.split("/")[0] + "/" + "0" * 64
    calls = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("greader.", "greader_php.")):
            continue
        if rule.endpoint.endswith(".client_login"):
            continue
        url = rule.rule.replace("<path:stream>", READING_LIST)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for header in (
                {},
                {"Authorization": f"GoogleLogin auth={forged}"},
                {"Authorization": f"Bearer {good}"},
            ):
                response = client.open(url, method=method, headers=header)
                assert response.status_code == 401, (method, url, header)
                assert response.get_json()["error"]["code"] == "unauthorized"
                calls += 1
    assert calls >= 2 * 17 * 3


def test_revoking_the_app_password_makes_its_tokens_fail(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    user = add_user(db, "reader")
    with db.session() as session:
        created = app_passwords.create(session, settings, user, "phone")
    response = client_login(client, "reader", created.password)
    token = response.get_data(as_text=True).split("Auth=")[1].strip()
    reader = Reader(client, token)
    assert reader.get("user-info").status_code == 200
    with db.session() as session:
        assert app_passwords.revoke(session, user, created.row.id)
    assert reader.get("user-info").status_code == 401
    assert reader.get("subscription/list").status_code == 401


def test_a_token_notes_when_its_app_password_was_last_used(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    reader = sign_in(client, db, settings)
    with db.session() as session:
        session.execute(update(AppPassword).values(last_used_at=None))
        session.commit()
    assert reader.get("user-info").status_code == 200
    with db.session() as session:
        used = session.scalar(select(AppPassword.last_used_at))
    assert used is not None


def test_token_gives_a_t_token_that_edits_may_carry(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 2)
    t = reader.get("token")
    assert t.status_code == 200 and t.mimetype == "text/plain"
    edit_token = t.get_data(as_text=True)
    assert len(edit_token) == 57
    ok = reader.post("edit-tag", {"i": str(ids[0]), "a": READ, "T": edit_token})
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "OK"
    assert refs(reader.get("stream/items/ids", s=READ)) == [ids[0]]


def test_a_wrong_t_token_is_refused_with_the_bad_token_header(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 1)
    response = reader.post("edit-tag", {"i": str(ids[0]), "a": READ, "T": "x" * 57})
    assert response.status_code == 401
    assert response.headers["X-Reader-Google-Bad-Token"] == "true"
    assert refs(reader.get("stream/items/ids", s=READ)) == []


def test_an_edit_without_t_is_accepted_as_miniflux_does(reader: Reader, db: Database) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 1)
    assert reader.post("edit-tag", {"i": str(ids[0]), "a": STARRED}).status_code == 200
    assert refs(reader.get("stream/items/ids", s=STARRED)) == ids


def test_the_browser_session_is_no_google_reader_login(app: Flask) -> None:
    browser = signed_in(app, "reader")
    assert browser.get(f"{API}/user-info").status_code == 401


def test_a_post_with_only_t_set_to_the_auth_token_is_accepted_as_miniflux_does(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    reader = sign_in(client, db, settings)
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 1)
    response = client.post(
        f"{API}/edit-tag", data={"T": reader.token, "i": str(ids[0]), "a": STARRED}
    )
    assert response.status_code == 200
    assert refs(reader.get("stream/items/ids", s=STARRED)) == ids
    anonymous = client.post(f"{API}/edit-tag", data={"T": "x" * 57, "i": str(ids[0]), "a": READ})
    assert anonymous.status_code == 401


# -- lists -----------------------------------------------------------------------------------


def test_user_info_names_the_person(reader: Reader) -> None:
    body = reader.get("user-info", output="json").get_json()
    assert body["userName"] == "reader"
    assert body["userId"] == body["userProfileId"] and body["userId"].isdigit()


def test_subscription_list_names_feeds_by_address_with_their_label(
    reader: Reader, db: Database
) -> None:
    filed, _ = add_feed_with_items(db, "https://a.example/feed", 1, title="A")
    add_feed_with_items(db, "https://b.example/feed", 1, title="B")
    in_folder(db, filed, "Tech")
    user_id = reader.get("user-info").get_json()["userId"]
    subs = reader.get("subscription/list", output="json").get_json()["subscriptions"]
    by_id = {sub["id"]: sub for sub in subs}
    assert set(by_id) == {"feed/https://a.example/feed", "feed/https://b.example/feed"}
    a = by_id["feed/https://a.example/feed"]
    assert a["title"] == "A" and a["url"] == "https://a.example/feed"
    assert a["categories"] == [
        {"id": f"user/{user_id}/label/Tech", "label": "Tech", "type": "folder"}
    ]
    assert by_id["feed/https://b.example/feed"]["categories"] == []


def test_tag_list_has_starred_and_one_label_per_folder(reader: Reader, db: Database) -> None:
    feed_id, _ = add_feed_with_items(db, "https://a.example/feed", 1)
    folder_id = in_folder(db, feed_id, "Tech")
    with db.session() as session:
        ensure_folder(session, add_user(db, "reader").id, "Rust", folder_id)
        session.commit()
    user_id = reader.get("user-info").get_json()["userId"]
    tags = [tag["id"] for tag in reader.get("tag/list", output="json").get_json()["tags"]]
    assert tags == [
        f"user/{user_id}/state/com.google/starred",
        f"user/{user_id}/label/Tech",
        f"user/{user_id}/label/Tech / Rust",
    ]


def test_unread_count_counts_everything_each_feed_and_each_label(
    reader: Reader, db: Database
) -> None:
    a, a_ids = add_feed_with_items(db, "https://a.example/feed", 3)
    add_feed_with_items(db, "https://b.example/feed", 2)
    in_folder(db, a, "Tech")
    reader.post("edit-tag", {"i": str(a_ids[0]), "a": READ})
    user_id = reader.get("user-info").get_json()["userId"]
    body = reader.get("unread-count", output="json").get_json()
    counts = {row["id"]: row["count"] for row in body["unreadcounts"]}
    assert body["max"] == 4
    assert counts == {
        f"user/{user_id}/state/com.google/reading-list": 4,
        "feed/https://a.example/feed": 2,
        "feed/https://b.example/feed": 2,
        f"user/{user_id}/label/Tech": 2,
    }
    newest = {row["id"]: row["newestItemTimestampUsec"] for row in body["unreadcounts"]}
    newest_a = datetime(2026, 1, 1, 2, tzinfo=UTC)  # the third item, two hours on
    assert newest["feed/https://a.example/feed"] == str(int(newest_a.timestamp() * 1_000_000))


# -- a whole sync, as NetNewsWire and Reeder do it ---------------------------------------------


def test_a_netnewswire_style_sync_reads_marks_and_counts(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 5, title="A")
    in_folder(db, feed_id, "News")
    password = app_password(db, settings)
    login = client.post("/accounts/ClientLogin", data={"Email": "reader", "Passwd": password})
    token = login.get_data(as_text=True).split("Auth=")[1].strip()
    reader = Reader(client, token)
    edit_token = reader.get("token").get_data(as_text=True)
    subs = reader.get("subscription/list", output="json").get_json()["subscriptions"]
    assert [sub["id"] for sub in subs] == ["feed/https://a.example/feed"]
    tags = reader.get("tag/list", output="json").get_json()["tags"]
    assert any(tag["id"].endswith("/label/News") for tag in tags)
    unread = refs(reader.get("stream/items/ids", output="json", s=READING_LIST, n=1000, xt=READ))
    assert sorted(unread) == ids
    assert refs(reader.get("stream/items/ids", output="json", s=STARRED, n=1000)) == []
    # Contents by short ids, in one form-encoded POST with repeated i=.
    contents = client.post(
        f"{API}/stream/items/contents?output=json",
        data={"T": edit_token, "i": [str(i) for i in unread[:3]]},
        headers=reader.headers,
    )
    assert sorted(long_ids(contents)) == sorted(unread[:3])
    item = contents.get_json()["items"][0]
    assert item["origin"]["streamId"] == "feed/https://a.example/feed"
    assert item["origin"]["title"] == "A"
    assert item["summary"]["content"].startswith("<p>whole body")
    assert item["alternate"][0]["href"].startswith("https://A.example/")
    assert any(c.endswith("/label/News") for c in item["categories"])
    assert not any(c.endswith("/state/com.google/read") for c in item["categories"])
    # Mark two read, with the long ids the contents gave.
    marked = reader.post(
        "edit-tag",
        {"T": edit_token, "i": [i["id"] for i in contents.get_json()["items"][:2]], "a": READ},
    )
    assert marked.status_code == 200 and marked.get_data(as_text=True) == "OK"
    left = refs(reader.get("stream/items/ids", output="json", s=READING_LIST, n=1000, xt=READ))
    assert len(left) == 3
    counts = reader.get("unread-count", output="json").get_json()
    assert counts["max"] == 3


def test_a_reeder_style_sync_pages_stream_contents_with_continuations(
    reader: Reader, db: Database
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 7)
    seen: list[int] = []
    query: dict[str, object] = {"n": 3, "output": "json"}
    while True:
        response = reader.get(f"stream/contents/{READING_LIST}", **query)
        seen += long_ids(response)
        body = response.get_json()
        if "continuation" not in body:
            break
        query["c"] = body["continuation"]
    assert seen == list(reversed(ids))


# -- round trips with the web site ----------------------------------------------------------------


def test_a_star_through_the_api_shows_starred_on_the_web_site(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 3, title="garden")
    reader = sign_in(client, db, settings)
    edit_token = reader.get("token").get_data(as_text=True)
    starred = reader.post("edit-tag", {"T": edit_token, "i": f"{LONG}{ids[1]:016x}", "a": STARRED})
    assert starred.status_code == 200
    web = sign_in_web_as(client, add_user(db, "reader"))  # the browser's session, too
    api = web.get("/api/items?starred=true").get_json()["items"]
    assert [item["id"] for item in api] == [ids[1]] and api[0]["starred"] is True
    page = web.get("/?starred=1").get_data(as_text=True)
    assert "garden item 1" in page
    assert "garden item 0" not in page and "garden item 2" not in page


def test_marked_read_through_the_api_is_gone_from_the_rivers_unread_view(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    feed_id, ids = add_feed_with_items(db, "https://a.example/feed", 3, title="garden")
    reader = sign_in(client, db, settings)
    assert reader.post("edit-tag", {"i": [str(ids[0]), str(ids[2])], "a": READ}).status_code == 200
    web = sign_in_web_as(client, add_user(db, "reader"))  # the browser's session, too
    unread = web.get("/api/items?unread=true").get_json()["items"]
    assert [item["id"] for item in unread] == [ids[1]]
    page = web.get("/?unread=1").get_data(as_text=True)
    assert "garden item 1" in page
    assert "garden item 0" not in page and "garden item 2" not in page

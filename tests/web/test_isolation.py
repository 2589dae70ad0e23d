"""One person never sees or changes another's data, on any endpoint.

The test walks the app's url_map, so an endpoint added later is covered
without editing it: each one is called with the ids of the owner's feed, item,
folder, fetch, import and token, anonymously and as another person. A rule
with a path parameter this test cannot fill fails it, as does a public
endpoint missing from :data:`PUBLIC`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.services import app_passwords
from app.services.accounts import create_token
from app.storage import reading
from app.storage.db import Database
from app.storage.imports import Entry, create_import
from app.storage.models import (
    ApiToken,
    AppPassword,
    Feed,
    Fetch,
    FetchState,
    FetchTrigger,
    Folder,
    Item,
    ItemState,
    OpmlImport,
    Subscription,
    WebSubDelivery,
    WebSubSubscription,
)
from app.storage.subscriptions import ensure_folder
from tests.conftest import add_user, fever_key_of, signed_in
from tests.greader import sign_in as sign_in_greader
from tests.storage.rows import subscribe

#: Endpoints anyone may call, and why they reveal nothing of anyone's.
PUBLIC = {
    "auth.signin": "the sign-in form",
    "auth.signup": "the sign-up form",
    "pages.healthz": "liveness",
    "health.readyz": "readiness of Postgres and Redis",
    "health.prometheus_metrics": "its own credentials (ADMIN_USER or METRICS_TOKEN)",
    "docs.openapi": "the API description",
    "static": "CSS, script and icons",
    "fever.fever_php": "its own credentials (the api_key of an app password)",
    "fever.fever_miniflux": "its own credentials (the api_key of an app password)",
    # Hubs call it without a session. Its path holds a random 256-bit token naming one
    # subscription, a push counts only with that subscription's HMAC signature, and a
    # verification only for the request we sent: see test_the_websub_callback_...
    "websub.callback": "its own credentials (an unguessable token, the hub's signature)",
}
#: Endpoints public by blueprint: every view of the Google Reader API, at the root paths
#: and under /api/greader.php, checks its own credentials (ClientLogin's app password,
#: then the token it gave).
PUBLIC_BLUEPRINTS = {
    "greader": "its own credentials (a Google Reader API token of an app password)",
    "greader_php": "its own credentials (a Google Reader API token of an app password)",
}


def _public(endpoint: str) -> bool:
    return endpoint in PUBLIC or endpoint.split(".")[0] in PUBLIC_BLUEPRINTS


#: Endpoints only an admin may call (another person gets 403).
ADMIN = {
    "dashboard.status",
    "dashboard.requeue_failed",
    "dashboard.resume_paused",
    "feed_actions.pause",
    "feed_actions.resume",
    "feed_actions.delete",
}
SECRET = "alice-secret"


@pytest.fixture
def owned(db: Database, settings: Settings) -> Iterator[dict[str, object]]:
    """Alice's feed (with an item, a pending fetch), folder, star, import, token and
    app password."""
    alice = add_user(db, "alice")
    with db.session() as session:
        feed = Feed(url=f"https://{SECRET}.example/feed", current_url="x", title=SECRET)
        session.add(feed)
        session.flush()
        item_id = session.scalar(
            insert(Item)
            .values(feed_id=feed.id, key="k", title=f"{SECRET} item", content_hash="h")
            .returning(Item.id)
        )
        fetch = Fetch(feed_id=feed.id, trigger=FetchTrigger.SUBMITTED, state=FetchState.QUEUED)
        session.add(fetch)
        session.flush()
        folder_id = ensure_folder(session, alice.id, f"{SECRET} folder")
        subscribe(session, alice.id, feed.id, unread_recent=10, folder_id=folder_id)
        reading.set_starred(session, alice.id, [item_id])
        entries = [Entry(1, SECRET, feed.url, feed.id, fetch.id)]
        import_id = create_import(session, f"{SECRET}.opml", entries, user_id=alice.id)
        session.commit()
        websub = WebSubSubscription(
            feed_id=feed.id,
            hub_url="https://hub.example/",
            topic_url=feed.url,
            token=f"{SECRET}-websub-token",
            secret=f"{SECRET}-hmac",
            state="active",
            pending="subscribe",
        )
        session.add(websub)
        session.commit()
        token = create_token(session, alice, f"{SECRET} token")
        app_password = app_passwords.create(session, settings, alice, f"{SECRET} app")
        yield {
            "feed_id": feed.id,
            "item_id": item_id,
            "folder_id": folder_id,
            "fetch_id": str(fetch.id),
            "batch_id": import_id.hex,
            "token_id": token.token.id,
            "app_password_id": app_password.row.id,
            "filename": "style.css",
            "stream": f"feed/{feed.url}",
            "user_id": alice.id,
            "token": websub.token,
        }


def _snapshot(session: Session, owned: dict[str, object]) -> tuple[object, ...]:
    """Everything of Alice's that another person must not change."""
    user_id, feed_id = owned["user_id"], owned["feed_id"]

    def rows(model: type, *where: object) -> list[tuple[object, ...]]:
        columns = [c for c in model.__table__.columns if c.name != "search_vector"]
        return sorted(tuple(r) for r in session.execute(select(*columns).where(*where)))

    return (
        rows(Subscription, Subscription.user_id == user_id),
        rows(ItemState, ItemState.user_id == user_id),
        rows(Folder, Folder.user_id == user_id),
        sorted(session.scalars(select(ApiToken.id).where(ApiToken.user_id == user_id))),
        rows(AppPassword, AppPassword.user_id == user_id),
        sorted(session.scalars(select(OpmlImport.id).where(OpmlImport.user_id == user_id))),
        rows(Feed, Feed.id == feed_id),
        session.scalar(select(func.count()).select_from(Fetch).where(Fetch.feed_id == feed_id)),
        rows(Item, Item.feed_id == feed_id),
        rows(WebSubSubscription, WebSubSubscription.feed_id == feed_id),
        session.scalar(select(func.count()).select_from(WebSubDelivery)),
    )


def _requests(app: Flask, owned: dict[str, object]) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule, its parameters filled with Alice's ids."""
    calls = []
    for rule in app.url_map.iter_rules():
        missing = set(rule.arguments) - set(owned)
        assert not missing, f"{rule.rule}: teach this test the parameter(s) {missing}"
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: owned[name] for name in rule.arguments})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            calls.append((rule.endpoint, method, url))
    return calls


#: What a person might send: enough for every endpoint to act, aimed at Alice's rows.
def _body(owned: dict[str, object]) -> dict[str, object]:
    return {
        "ids": [owned["item_id"]],
        "read": True,
        "starred": False,
        "feed_id": owned["feed_id"],
        "folder_id": owned["folder_id"],
        "parent_id": owned["folder_id"],
        "name": "renamed",
        "title": "renamed",
        "url": "https://bob.example/feed",
    }


def test_every_endpoint_is_public_on_purpose_or_needs_someone(
    app: Flask, anon_client: FlaskClient, db: Database, owned: dict[str, object]
) -> None:
    with db.session() as session:
        before = _snapshot(session, owned)
    for endpoint, method, url in _requests(app, owned):
        if _public(endpoint):
            continue
        for accept in ("application/json", "text/html"):
            response = anon_client.open(
                url, method=method, json=_body(owned), headers={"Accept": accept}
            )
            body = response.get_data(as_text=True)
            assert SECRET not in body, (method, url)
            if response.status_code == 401:
                assert response.get_json()["error"]["code"] == "unauthorized"
            else:
                assert response.status_code == 303, (method, url, response.status_code)
                assert response.headers["Location"].startswith("/signin"), (method, url)
    with db.session() as session:
        assert _snapshot(session, owned) == before


def test_another_person_neither_sees_nor_changes_anything_of_alices(
    app: Flask, db: Database, owned: dict[str, object]
) -> None:
    bob = signed_in(app, "bob")
    with db.session() as session:
        before = _snapshot(session, owned)
    for endpoint, method, url in _requests(app, owned):
        if endpoint in ("auth.signout", "auth.signin", "auth.signup"):
            continue  # about Bob's own session, tested in test_auth
        for accept in ("application/json", "text/html"):
            response = bob.open(url, method=method, json=_body(owned), headers={"Accept": accept})
            body = response.get_data(as_text=True)
            assert SECRET not in body, (method, url)
            if endpoint in ADMIN:
                assert response.status_code == 403, (method, url)
            elif not _public(endpoint):
                assert response.status_code in (200, 201, 202, 204, 303, 400, 404, 415), (
                    method,
                    url,
                    response.status_code,
                )
        with db.session() as session:
            assert _snapshot(session, owned) == before, (method, url)


#: Every Fever read, and every mark aimed at Alice's ids.
def _fever_requests(owned: dict[str, object]) -> list[tuple[str, dict[str, object]]]:
    item, feed, folder = owned["item_id"], owned["feed_id"], owned["folder_id"]
    reads = "groups&feeds&favicons&links&unread_item_ids&saved_item_ids"
    return [
        (reads, {}),
        ("items", {}),
        ("items&since_id=0", {}),
        ("items&max_id=0", {}),
        (f"items&with_ids={item}", {}),
        ("", {"mark": "item", "as": "read", "id": item}),
        ("", {"mark": "item", "as": "unread", "id": item}),
        ("", {"mark": "item", "as": "saved", "id": item}),
        ("", {"mark": "item", "as": "unsaved", "id": item}),
        ("", {"mark": "feed", "as": "read", "id": feed, "before": 2**31}),
        ("", {"mark": "group", "as": "read", "id": folder, "before": 2**31}),
        ("", {"mark": "group", "as": "read", "id": 0}),
    ]


def test_another_persons_fever_key_neither_sees_nor_changes_anything_of_alices(
    app: Flask, db: Database, settings: Settings, owned: dict[str, object]
) -> None:
    # Every Fever endpoint in the url_map, so a path added later is covered too.
    bob_key = fever_key_of(db, settings, "bob")
    fever_urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("fever."):
            with app.test_request_context():
                fever_urls.append(url_for(rule.endpoint))
    assert len(fever_urls) == 2
    client = app.test_client()
    with db.session() as session:
        before = _snapshot(session, owned)
    for url in fever_urls:
        for query, form in _fever_requests(owned):
            response = client.post(f"{url}?api&{query}", data={"api_key": bob_key, **form})
            assert response.status_code == 200, (url, query, form)
            assert response.get_json()["auth"] == 1
            assert SECRET not in response.get_data(as_text=True), (url, query, form)
    with db.session() as session:
        assert _snapshot(session, owned) == before


#: Google Reader API arguments aimed at Alice's feed, folder, item and states.
def _greader_arguments(owned: dict[str, object]) -> list[dict[str, object]]:
    item, feed, alice = owned["item_id"], owned["feed_id"], owned["user_id"]
    url = f"https://{SECRET}.example/feed"
    label = f"user/{alice}/label/{SECRET} folder"
    return [
        {
            "s": f"feed/{url}",
            "i": str(item),
            "a": "user/-/state/com.google/read",
            "ac": "edit",
            "t": "renamed",
        },
        {
            "s": f"feed/{feed}",
            "i": f"tag:google.com,2005:reader/item/{item:016x}",
            "a": "user/-/state/com.google/starred",
            "ac": "unsubscribe",
        },
        {
            "s": f"user/-/label/{SECRET} folder",
            "i": str(item),
            "r": "user/-/state/com.google/starred",
            "ac": "edit",
        },
        {"s": f"feed/{url}", "ac": "edit", "r": f"user/-/label/{SECRET} folder"},
        {"s": label, "ts": "9" * 16, "dest": "user/-/label/renamed"},
        {"s": f"user/-/label/{SECRET} folder", "dest": "user/-/label/renamed"},
        {"s": f"user/{alice}/state/com.google/starred", "i": str(item)},
        {
            "s": "user/-/state/com.google/reading-list",
            "i": str(item),
            "a": "user/-/state/com.google/kept-unread",
        },
        {
            "s": "feed/https://bob.example/feed",
            "ac": "subscribe",
            "quickadd": "https://bob.example/feed",
        },
    ]


def test_another_persons_google_reader_token_neither_sees_nor_changes_anything_of_alices(
    app: Flask, db: Database, settings: Settings, owned: dict[str, object]
) -> None:
    # Every Google Reader endpoint in the url_map, so a path added later is covered too.
    client = app.test_client()
    bob = sign_in_greader(client, db, settings, "bob")
    calls, rules = [], 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS:
            rules += 1
            with app.test_request_context():
                url = url_for(rule.endpoint, **{name: owned[name] for name in rule.arguments})
            calls += [
                (method, url) for method in sorted(rule.methods or ()) if method in ("GET", "POST")
            ]
    assert rules == 2 * 18
    with db.session() as session:
        before = _snapshot(session, owned)
    for method, url in calls:
        for arguments in _greader_arguments(owned):
            if method == "GET":
                response = client.get(url, query_string=arguments, headers=bob.headers)
            else:
                response = client.post(url, data=arguments, headers=bob.headers)
            assert response.status_code in (200, 400, 401, 404, 429), (method, url, arguments)
            if "ClientLogin" not in url:
                assert response.status_code != 401, (method, url, arguments)
            # The answer may name the stream asked for (stream/contents does); nothing else.
            body = response.get_data(as_text=True)
            for sent in (url.split("/stream/contents/")[-1], arguments["s"]):
                body = body.replace(str(sent), "")
            assert SECRET not in body, (method, url, arguments)
        with db.session() as session:
            assert _snapshot(session, owned) == before, (method, url)


def test_the_owner_reaches_each_of_their_things(
    app: Flask, db: Database, owned: dict[str, object]
) -> None:
    alice = signed_in(app, "alice")
    for path in (
        f"/api/feeds/{owned['feed_id']}",
        f"/api/items/{owned['item_id']}",
        f"/fetches/{owned['fetch_id']}",
        f"/opml/batches/{owned['batch_id']}",
        f"/feeds/{owned['feed_id']}",
    ):
        response = alice.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 200, path
    assert SECRET in alice.get("/api/items").get_data(as_text=True)
    assert uuid.UUID(str(owned["fetch_id"]))


def test_the_websub_callback_answers_only_its_hub(
    app: Flask, anon_client: FlaskClient, db: Database, owned: dict[str, object]
) -> None:
    # Public, so the url_map walks above only check it leaks nothing: here, that it
    # gives nothing to a caller without the token, or with it but without the
    # subscription's signature or pending request.
    with db.session() as session:
        before = _snapshot(session, owned)
    topic = f"https://{SECRET}.example/feed"
    verify = {"hub.mode": "unsubscribe", "hub.topic": topic, "hub.challenge": "c"}
    assert anon_client.get("/websub/guessed-token", query_string=verify).status_code == 404
    assert anon_client.post("/websub/guessed-token", data=b"<feed/>").status_code == 410
    token = owned["token"]
    assert anon_client.get(f"/websub/{token}", query_string=verify).status_code == 404
    unsigned = anon_client.post(f"/websub/{token}", data=b"<feed/>")
    assert unsigned.status_code == 202 and SECRET not in unsigned.get_data(as_text=True)
    with db.session() as session:
        assert _snapshot(session, owned) == before

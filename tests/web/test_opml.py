"""OPML import (with its batch progress) and export over HTTP."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select, update

from app.opml import parse_opml
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState, User
from app.storage.subscriptions import ensure_folder
from tests.conftest import follow
from tests.feedserver import FIXTURES
from tests.storage.rows import subscribe

HTML = {"Accept": "text/html"}

# Two feeds, an address that is not http(s), and the first feed spelled again.
OPML = (FIXTURES / "subscriptions.opml").read_bytes()


def _upload(client: FlaskClient, data: bytes, name: str = "feeds.opml"):  # noqa: ANN202
    return client.post(
        "/opml/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=HTML,
    )


def test_import_submits_each_valid_feed_and_redirects_to_the_batch(
    client: FlaskClient, db: Database, redis: Redis
) -> None:
    response = _upload(client, OPML)
    assert response.status_code == 303
    assert re.fullmatch(r"/opml/batches/[0-9a-f]{32}", response.headers["Location"])
    with db.session() as session:
        urls = sorted(session.scalars(select(Feed.url)))
    assert urls == ["https://a.example/feed", "https://b.example/rss"]
    assert redis.llen("rq:queue:feedqueue-test-submissions") == 2


def test_batch_page_lists_submitted_feeds_and_each_refused_entry(
    client: FlaskClient, db: Database, redis: Redis
) -> None:
    html = client.get(_upload(client, OPML).headers["Location"]).get_data(as_text=True)
    assert html.count("data-fetch-id=") == 2
    assert "Only http:// and https:// addresses can be fetched." in html
    assert "Already listed on line 3." in html
    assert "Fetched 0 of 2 feeds" in html


def test_batch_progress_reports_fetch_states(
    client: FlaskClient, db: Database, redis: Redis
) -> None:
    location = _upload(client, OPML).headers["Location"]
    with db.session() as session:
        session.execute(
            update(Fetch)
            .where(
                Fetch.feed_id
                == select(Feed.id).where(Feed.url.like("https://a.%")).scalar_subquery()
            )
            .values(state=FetchState.FAILED, error_code="http_404", error_message="Not there.")
        )
        session.commit()
    response = client.get(location + "/progress")
    body = response.get_json()
    assert body["summary"] == {"total": 2, "done": 1, "failed": 1, "pending": 1}
    failed = [f for f in body["fetches"] if f["state"] == "failed"][0]
    assert failed["error"] == "Not there." and failed["badge"] == "error"
    assert "Nothing was found" in failed["advice"]
    assert response.headers["Retry-After"]


def test_the_progress_page_survives_a_redis_flush(
    client: FlaskClient, db: Database, redis: Redis
) -> None:
    location = _upload(client, OPML).headers["Location"]
    redis.flushdb()
    html = client.get(location, headers=HTML).get_data(as_text=True)
    assert html.count("data-fetch-id=") == 2
    assert "Already listed on line 3." in html


def test_unknown_batch_is_404(client: FlaskClient, redis: Redis) -> None:
    assert client.get("/opml/batches/" + "0" * 32, headers=HTML).status_code == 404
    assert client.get("/opml/batches/nope", headers=HTML).status_code == 404
    assert client.get("/opml/batches/" + "z" * 32, headers=HTML).status_code == 404


def test_import_without_a_file_shows_the_form_with_an_error(client: FlaskClient) -> None:
    response = client.post("/opml/import", data={}, headers=HTML)
    assert response.status_code == 400
    assert "Choose an OPML file" in response.get_data(as_text=True)


def test_import_of_a_file_with_a_doctype_is_refused_inline(
    client: FlaskClient, db: Database
) -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><opml><body/></opml>'
    response = _upload(client, data)
    assert response.status_code == 400
    assert "DOCTYPE" in response.get_data(as_text=True)
    assert 'id="opml-error"' in response.get_data(as_text=True)


def test_import_of_a_file_over_1_mib_is_refused_as_too_large(
    client: FlaskClient, db: Database
) -> None:
    data = b"<opml><body>" + b" " * (1024 * 1024) + b"</body></opml>"
    response = _upload(client, data)
    assert response.status_code == 413
    with db.session() as session:
        assert session.scalar(select(Feed.id)) is None


def test_export_is_an_opml_attachment_of_the_persons_feeds_in_their_folders(
    client: FlaskClient, db: Database, user: User
) -> None:
    with db.session() as session:
        a = Feed(url="https://a.example/", current_url="https://a.example/feed", title="A")
        b = Feed(url="https://b.example/", current_url="https://b.example/")
        other = Feed(url="https://other.example/", current_url="https://other.example/")
        session.add_all([a, b, other])
        session.flush()
        inner = ensure_folder(session, user.id, "Inner", ensure_folder(session, user.id, "Outer"))
        subscribe(session, user.id, a.id, unread_recent=10, folder_id=inner)
        subscribe(session, user.id, b.id, unread_recent=10)
        session.commit()
        other_id = other.id
    follow(db, other_id, "someone else")
    response = client.get("/opml/export")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    doc = parse_opml(response.data)
    assert [(e.title, e.xml_url, e.folder) for e in doc.entries] == [
        ("A", "https://a.example/feed", ("Outer", "Inner")),
        ("https://b.example/", "https://b.example/", ()),
    ]


def test_opml_page_has_the_upload_form_and_export_link(client: FlaskClient) -> None:
    html = client.get("/opml").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert 'href="/opml/export"' in html

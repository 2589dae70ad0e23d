"""One feed, many spellings: submitting them all through the API stores one feed row."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from app.storage.db import Database
from app.storage.models import Feed

CANONICAL = "https://xn--bcher-kva.example/news/feed.xml?lang=de"

SPELLINGS = [
    CANONICAL,
    "HTTPS://XN--BCHER-KVA.EXAMPLE/news/feed.xml?lang=de",
    "https://bücher.example/news/feed.xml?lang=de",
    "https://BÜCHER.example/news/feed.xml?lang=de",
    "https://bücher.example./news/feed.xml?lang=de",
    "https://bücher。example/news/feed.xml?lang=de",
    "https://xn--bcher-kva.example:443/news/feed.xml?lang=de",
    "https://xn--bcher-kva.example:/news/feed.xml?lang=de",
    "https://xn--bcher-kva.example/news/feed.xml?lang=de#latest",
    "https://xn--bcher-kva.example/news/feed.xml?lang=de#",
    "  https://xn--bcher-kva.example/news/feed.xml?lang=de\n",
    "\thttps://xn--bcher-kva.example/news/feed.xml?lang=de ",
    "https://xn--bcher-kva.example/%6Eews/feed%2Exml?lang=%64e",
    "https://xn--bcher-kva.example/%6eews/feed.xml?l%61ng=de",
    "https://xn--bcher-kva.example/news/./feed.xml?lang=de",
    "https://xn--bcher-kva.example/old/../news/feed.xml?lang=de",
    "https://xn--bcher-kva.example/./news/%2e/feed.xml?lang=de",
]


def test_many_spellings_of_one_url_store_one_feed(client: FlaskClient, db: Database) -> None:
    fetch_ids = set()
    for spelling in SPELLINGS:
        response = client.post("/feeds", json={"url": spelling})
        assert response.status_code == 202, (spelling, response.get_json())
        fetch_ids.add(response.get_json()["fetch"]["id"])
    with db.session() as session:
        urls = session.scalars(select(Feed.url)).all()
    assert urls == [CANONICAL]
    assert len(fetch_ids) == 1  # every resubmission found the pending fetch


def test_an_empty_query_is_the_same_feed_as_no_query(client: FlaskClient, db: Database) -> None:
    for spelling in (
        "http://example.com/rss",
        "http://example.com/rss?",
        "http://example.com:80/rss",
    ):
        assert client.post("/feeds", json={"url": spelling}).status_code == 202
    with db.session() as session:
        assert session.scalars(select(Feed.url)).all() == ["http://example.com/rss"]


def test_a_different_query_is_a_different_feed(client: FlaskClient, db: Database) -> None:
    for spelling in ("https://example.com/rss?a=1&b=2", "https://example.com/rss?b=2&a=1"):
        assert client.post("/feeds", json={"url": spelling}).status_code == 202
    with db.session() as session:
        assert len(session.scalars(select(Feed.url)).all()) == 2


def test_the_form_and_the_api_agree_on_the_spelling(client: FlaskClient, db: Database) -> None:
    client.post("/feeds", json={"url": "https://Example.com/feed"})
    client.post(
        "/feeds", data={"url": " https://EXAMPLE.com:443/feed# "}, headers={"Accept": "text/html"}
    )
    with db.session() as session:
        assert session.scalars(select(Feed.url)).all() == ["https://example.com/feed"]

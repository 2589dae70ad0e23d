"""Hostile OPML uploads through the real import form: size, outline count, entities, spellings."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.opml import MAX_OUTLINES
from app.storage.db import Database
from app.storage.models import Feed


def _upload(client: FlaskClient, data: bytes) -> object:
    return client.post(
        "/opml/import",
        data={"file": (io.BytesIO(data), "subs.opml")},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    )


def _opml(outlines: str) -> bytes:
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


def _feeds(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Feed)) or 0


def test_an_upload_over_the_request_limit_is_refused_with_413(
    client: FlaskClient, db: Database
) -> None:
    padding = "<!--" + "x" * (1024 * 1024) + "-->"
    response = _upload(client, _opml(padding + '<outline xmlUrl="https://example.com/f"/>'))
    assert response.status_code == 413
    assert _feeds(db) == 0


def test_a_file_with_too_many_outlines_is_refused_whole(client: FlaskClient, db: Database) -> None:
    outlines = "".join(
        f'<outline xmlUrl="https://example.com/{i}"/>' for i in range(MAX_OUTLINES + 1)
    )
    response = _upload(client, _opml(outlines))
    assert response.status_code == 400
    assert _feeds(db) == 0


def test_entity_expansion_is_refused(client: FlaskClient, db: Database) -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<opml version="2.0"><body><outline text="&d;" xmlUrl="https://example.com/f"/></body></opml>"""
    response = _upload(client, laughs)
    assert response.status_code == 400
    assert _feeds(db) == 0


def test_external_entities_are_refused(client: FlaskClient, db: Database) -> None:
    xxe = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&x;" xmlUrl="https://example.com/f"/></body></opml>"""
    response = _upload(client, xxe)
    assert response.status_code == 400
    assert b"root:" not in response.data


def test_spellings_of_one_feed_in_an_opml_file_store_one_feed(
    client: FlaskClient, db: Database
) -> None:
    spellings = [
        "https://example.com/feed",
        "HTTPS://EXAMPLE.COM:443/feed#x",
        "https://example.com./%66eed?",
    ]
    outlines = "".join(f'<outline xmlUrl="{s}"/>' for s in spellings)
    response = _upload(client, _opml(outlines))
    assert response.status_code == 303
    assert _feeds(db) == 1

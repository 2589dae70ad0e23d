"""The OPML import tables (app/storage/imports.py) against real Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from app.storage import imports
from app.storage.db import Database
from app.storage.imports import Entry
from app.storage.models import FetchState, OpmlImport, OpmlImportEntry
from tests.conftest import add_user
from tests.storage.rows import add_feed, add_fetch

HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def _import(db: Database) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """An import of two submitted entries (one whose feed is gone since) and two refused."""
    with db.session() as session:
        feed = add_feed(session, f"https://e.example/{uuid.uuid4()}")
        fetch = add_fetch(session, feed, FetchState.FAILED, error_code="http_404")
        gone = uuid.uuid4()
        import_id = imports.create_import(
            session,
            "feeds.opml",
            [
                Entry(3, "A", "https://e.example/feed", feed.id, fetch.id),
                Entry(4, "B", "https://b.example/", 999, gone),
                Entry(5, "Bad", "ftp://c.example/", refusal="Only http:// and https://."),
                Entry(0, "", "", refusal="The outline has no feed address (xmlUrl)."),
            ],
            user_id=add_user(db).id,
        )
        session.commit()
    return import_id, [fetch.id, gone]


def test_an_import_keeps_its_entries_in_order_with_their_fetches_as_they_are_now(
    db: Database,
) -> None:
    import_id, (fetch_id, gone) = _import(db)
    with db.session() as session:
        submitted = imports.submitted_with_fetches(session, import_id)
        refused = imports.refused_entries(session, import_id)
        assert [(e.title, e.fetch_id) for e, _ in submitted] == [("A", fetch_id), ("B", gone)]
        assert submitted[0][1] is not None and submitted[0][1].error_code == "http_404"
        assert submitted[1][1] is None  # the fetch went with its feed
        assert [(e.line, e.refusal) for e in refused] == [
            (5, "Only http:// and https://."),
            (0, "The outline has no feed address (xmlUrl)."),
        ]


def test_an_import_is_found_only_when_made_since_the_given_time(db: Database) -> None:
    import_id, _ = _import(db)
    with db.session() as session:
        user_id = add_user(db).id
        found = imports.get_import(session, import_id, since=HOUR_AGO, user_id=user_id)
        assert found is not None
        now = datetime.now(UTC)
        assert imports.get_import(session, import_id, since=now, user_id=user_id) is None
        assert imports.get_import(session, uuid.uuid4(), since=HOUR_AGO, user_id=user_id) is None
        other = add_user(db, "someone else").id
        assert imports.get_import(session, import_id, since=HOUR_AGO, user_id=other) is None


def test_old_imports_are_deleted_with_their_entries(db: Database) -> None:
    old, _ = _import(db)
    new, _ = _import(db)
    with db.session() as session:
        session.execute(
            update(OpmlImport)
            .where(OpmlImport.id == old)
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
        assert imports.delete_imports_before(session, datetime.now(UTC) - timedelta(days=1)) == 1
        session.commit()
        assert list(session.scalars(select(OpmlImport.id))) == [new]
        entries = session.scalar(select(func.count()).select_from(OpmlImportEntry))
        assert entries == 4

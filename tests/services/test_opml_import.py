"""Importing an OPML file (app/services/opml_import.py): what is submitted, what is refused,
and a progress that lives in Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from sqlalchemy import delete, update

from app.config import Settings
from app.opml import OpmlError
from app.queue.connection import redis_from_url
from app.queue.queues import Queues
from app.services.opml_import import (
    KEPT_FOR,
    QUEUE_DOWN,
    export_entries,
    import_opml,
    import_progress,
)
from app.storage.db import Database
from app.storage.models import Feed, Fetch, FetchState, OpmlImport, User
from tests.feedserver import FIXTURES

# Two feeds, an address that is not http(s), and the first feed spelled again.
OPML = (FIXTURES / "subscriptions.opml").read_bytes()


def test_an_import_submits_each_valid_feed_and_records_each_refusal(
    user: User, db: Database, queues: Queues, settings: Settings
) -> None:
    with db.session() as session:
        import_id = import_opml(
            session, queues, settings, name="feeds.opml", data=OPML, user_id=user.id
        )
        progress = import_progress(session, import_id, user.id)
    assert progress is not None and progress.name == "feeds.opml"
    assert [(f.title, f.url, f.state) for f in progress.feeds] == [
        ("A", "https://a.example/feed", "queued"),
        ("B", "https://b.example/rss", "queued"),
    ]
    assert [(r.line, r.reason) for r in progress.refused] == [
        (5, "Only http:// and https:// addresses can be fetched."),
        (6, "Already listed on line 3."),
    ]
    assert queues.submissions.count == 2
    assert progress.summary == {"total": 2, "done": 0, "failed": 0, "pending": 2}


def test_a_file_that_is_not_opml_is_refused_whole(
    user: User, db: Database, queues: Queues, settings: Settings
) -> None:
    with db.session() as session, pytest.raises(OpmlError):
        import_opml(session, queues, settings, name="x", data=b"<html/>", user_id=user.id)


def test_the_progress_follows_the_fetches_and_a_deleted_feed(
    user: User, db: Database, queues: Queues, settings: Settings
) -> None:
    with db.session() as session:
        import_id = import_opml(session, queues, settings, name="f", data=OPML, user_id=user.id)
        session.execute(
            update(Fetch).values(state=FetchState.FAILED, error_code="http_404", error_message="No")
        )
        session.execute(delete(Feed).where(Feed.url == "https://b.example/rss"))
        session.commit()
        progress = import_progress(session, import_id, user.id)
    assert progress is not None
    assert [(f.state, f.error_code) for f in progress.feeds] == [
        ("failed", "http_404"),
        ("deleted", None),
    ]
    assert progress.summary == {"total": 2, "done": 2, "failed": 1, "pending": 0}


def test_the_progress_survives_a_redis_flush(
    user: User, db: Database, queues: Queues, settings: Settings, redis: Redis
) -> None:
    with db.session() as session:
        import_id = import_opml(session, queues, settings, name="f", data=OPML, user_id=user.id)
    redis.flushdb()
    with db.session() as session:
        progress = import_progress(session, import_id, user.id)
    assert progress is not None and len(progress.feeds) == 2


def test_when_redis_refuses_the_rest_is_reported_to_import_again(
    user: User, db: Database, settings: Settings
) -> None:
    dead = Queues(redis_from_url("redis://127.0.0.1:1/0"), settings)
    with db.session() as session:
        progress = import_progress(
            session,
            import_opml(session, dead, settings, name="f", data=OPML, user_id=user.id),
            user.id,
        )
    assert progress is not None and progress.feeds == []
    assert [r.reason for r in progress.refused][-2:] == [QUEUE_DOWN, QUEUE_DOWN]


def test_an_import_is_shown_for_a_day_and_then_removed_by_the_next(
    user: User, db: Database, queues: Queues, settings: Settings
) -> None:
    with db.session() as session:
        old = import_opml(session, queues, settings, name="old", data=OPML, user_id=user.id)
        session.execute(
            update(OpmlImport).values(created_at=datetime.now(UTC) - KEPT_FOR - timedelta(1))
        )
        session.commit()
        assert import_progress(session, old, user.id) is None
        import_opml(session, queues, settings, name="new", data=OPML, user_id=user.id)
        assert session.get(OpmlImport, old) is None


def test_a_long_file_name_is_cut_to_the_first_200_characters(
    user: User, db: Database, queues: Queues, settings: Settings
) -> None:
    with db.session() as session:
        progress = import_progress(
            session,
            import_opml(session, queues, settings, name="n" * 500, data=OPML, user_id=user.id),
            user.id,
        )
    assert progress is not None and progress.name == "n" * 200


def test_an_import_files_feeds_in_folders_as_the_file_nests_them(
    user: User, db: Database, queues: Queues, settings: Settings
) -> None:
    nested = b"""<?xml version="1.0"?>
<opml version="2.0"><body>
<outline text="Top"><outline text="News">
  <outline text="A" xmlUrl="https://a.example/feed"/></outline>
  <outline text="B" xmlUrl="https://b.example/feed"/></outline>
<outline text="C" xmlUrl="https://c.example/feed"/>
</body></opml>"""
    with db.session() as session:
        import_opml(session, queues, settings, name="f", data=nested, user_id=user.id)
        exported = export_entries(session, user.id)
    assert sorted((e.title, e.folder) for e in exported) == [
        ("A", ("Top", "News")),
        ("B", ("Top",)),
        ("C", ()),
    ]

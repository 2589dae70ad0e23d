"""The fetch job looks for a feed's icon after recording the fetch, only when it is due."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.context import JobContext
from app.jobs import icons as icon_jobs
from app.jobs.fetch import run_one
from app.storage.db import Database
from app.storage.feeds import upsert_feed
from app.storage.fetches import create_fetch
from app.storage.models import FeedIcon, Fetch, FetchState, FetchTrigger
from tests.feedserver import FeedServer, Response

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


def _rss(icon_path: str, title: str = "t") -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>
    <image><url>{icon_path}</url><title>t</title><link>/</link></image>
    <item><guid>1</guid><title>one</title></item></channel></rss>""".encode()


def _fetch(ctx: JobContext, db: Database, url: str) -> tuple[int, FetchState]:
    with db.session() as session:
        feed, _ = upsert_feed(session, url)
        fetch, _ = create_fetch(session, feed.id, FetchTrigger.SUBMITTED)
        session.commit()
        feed_id, fetch_id = feed.id, fetch.id
    run_one(ctx, fetch_id)
    with db.session() as session:
        state = session.get(Fetch, fetch_id)
        assert state is not None
        return feed_id, state.state


def _icon(db: Database, feed_id: int) -> FeedIcon | None:
    with db.session() as session:
        return session.get(FeedIcon, feed_id)


def test_a_fetch_stores_the_icon_its_feed_names(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, state = _fetch(job_context, db, url)
    icon = _icon(db, feed_id)
    assert state == FetchState.SUCCEEDED
    assert icon is not None and icon.body == PNG and icon.content_type == "image/png"
    assert icon.declared_url == feed_server.url("/icon.png") and icon.error is None


def test_an_icon_not_due_is_not_fetched_again(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    versions = iter([_rss("/icon.png", "one"), _rss("/icon.png", "two")])
    body = {"now": next(versions)}

    url = feed_server.route(
        "/f.xml", lambda _r: Response(200, body["now"], {"Content-Type": "application/rss+xml"})
    )
    _fetch(job_context, db, url)
    body["now"] = next(versions)  # a changed document, so the job asks whether the icon is due
    _fetch(job_context, db, url)
    assert feed_server.hits("/icon.png") == 1


def test_a_feed_without_any_icon_records_why(
    job_context: JobContext, db: Database, feed_server: FeedServer
) -> None:
    url = feed_server.add("/f.xml", _rss("/missing.png"))
    feed_id, state = _fetch(job_context, db, url)
    icon = _icon(db, feed_id)
    assert state == FetchState.SUCCEEDED
    assert icon is not None and icon.body is None and icon.error
    assert feed_server.hits("/favicon.ico") == 1


def test_a_zero_size_cap_turns_icons_off(
    job_context_with: Callable[..., JobContext], db: Database, feed_server: FeedServer
) -> None:
    feed_server.add("/icon.png", PNG, content_type="image/png")
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, _ = _fetch(job_context_with(feed_icon_max_bytes=0), db, url)
    assert _icon(db, feed_id) is None and feed_server.hits("/icon.png") == 0


def test_a_broken_icon_search_never_fails_the_fetch(
    job_context: JobContext,
    db: Database,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(icon_jobs, "find_icon", broken)
    url = feed_server.add("/f.xml", _rss("/icon.png"))
    feed_id, state = _fetch(job_context, db, url)
    icon = _icon(db, feed_id)
    assert state == FetchState.SUCCEEDED
    assert icon is not None and "unexpectedly" in (icon.error or "")

"""Rows for the storage tests, written straight through the ORM."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.storage.models import Feed, Fetch, FetchState, FetchTrigger


def add_feed(session: Session, url: str = "https://e.example/feed", **values: object) -> Feed:
    """A feed at ``url`` (flushed, so it has its id)."""
    feed = Feed(url=url, current_url=url, **values)
    session.add(feed)
    session.flush()
    return feed


def add_fetch(
    session: Session,
    feed: Feed,
    state: FetchState = FetchState.QUEUED,
    trigger: FetchTrigger = FetchTrigger.REFRESH,
    **values: object,
) -> Fetch:
    """A fetch of ``feed`` in ``state`` (flushed)."""
    fetch = Fetch(feed_id=feed.id, trigger=trigger, state=state, **values)
    session.add(fetch)
    session.flush()
    return fetch

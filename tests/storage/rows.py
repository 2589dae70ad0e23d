"""Rows for the storage tests, written straight through the ORM."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.storage.models import Feed, Fetch, FetchState, FetchTrigger
from app.storage.subscriptions import subscribe
from app.storage.users import create_user, user_by_name


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


def add_follower(session: Session, feed: Feed, username: str = "follower") -> Feed:
    """Subscribe ``username`` (created if new) to ``feed``: the scheduler refreshes only
    feeds someone follows. Returns the feed."""
    user = user_by_name(session, username) or create_user(
        session, username, "not a real hash", is_admin=False
    )
    subscribe(session, user.id, feed.id, unread_recent=0)
    return feed

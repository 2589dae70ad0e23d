"""Rows for the storage tests, written straight through the ORM."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.storage.models import Feed, Fetch, FetchState, FetchTrigger, Item, Subscription
from app.storage.subscriptions import keep_newest_unread
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


def subscribe(
    session: Session,
    user_id: int,
    feed_id: int,
    *,
    unread_recent: int,
    title: str | None = None,
    folder_id: int | None = None,
) -> None:
    """``user_id`` follows the feed (unless already), its ``unread_recent`` newest items
    unread: the rows a submission writes (app.storage.submissions.store_submission, then
    app.services.submissions.submit_url), without the feed's upsert or a fetch."""
    newest = select(func.coalesce(func.max(Item.id), 0)).where(Item.feed_id == feed_id)
    read_upto_id = session.scalar(
        pg_insert(Subscription)
        .values(
            user_id=user_id,
            feed_id=feed_id,
            title=title,
            folder_id=folder_id,
            read_upto_id=newest.scalar_subquery(),
        )
        .on_conflict_do_nothing(constraint="uq_subscriptions_user_feed")
        .returning(Subscription.read_upto_id)
    )
    if read_upto_id is not None:
        keep_newest_unread(session, user_id, feed_id, read_upto_id, unread_recent)


def add_follower(session: Session, feed: Feed, username: str = "follower") -> Feed:
    """Subscribe ``username`` (created if new) to ``feed``: the scheduler refreshes only
    feeds someone follows. Returns the feed."""
    user = user_by_name(session, username) or create_user(
        session, username, "not a real hash", is_admin=False
    )
    subscribe(session, user.id, feed.id, unread_recent=0)
    return feed

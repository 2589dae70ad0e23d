"""The feeds table: creating and reading feeds, state changes, the scheduler's claim.

State changes take their rules from app.feed_state. Each is one statement, so it
composes with the scheduler's ``FOR UPDATE SKIP LOCKED`` claims; callers commit.
A fetch's outcome is written to its feed by app.storage.outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.feed_state import REFRESHABLE, Change, FeedState, Policy, paused, resumed
from app.storage.models import MAX_ID, Feed, Fetch, FetchState, Subscription
from app.storage.pagination import BadCursor, Page, decode_cursor, page_of

#: Feed ids are BIGINT: a larger number names no feed (and would fail the query).
#: How far a claimed feed's provisional next fetch time moves, as a share of its interval.
JITTER = 0.1


def upsert_feed(session: Session, url: str) -> tuple[Feed, bool]:
    """Return the feed stored under ``url`` (creating it if needed) and whether it is new."""
    stmt = (
        pg_insert(Feed)
        .values(url=url, current_url=url)
        # DO NOTHING would return no row on conflict; a no-op update does.
        .on_conflict_do_update(index_elements=[Feed.url], set_={"url": url})
        .returning(Feed, literal_column("(xmax = 0)").label("inserted"))
    )
    feed, inserted = session.execute(stmt, execution_options={"populate_existing": True}).one()
    return feed, bool(inserted)


def get_feed(session: Session, feed_id: int) -> Feed | None:
    """The feed of that id, or None (also for ids beyond the column's range)."""
    return session.get(Feed, feed_id) if 0 < feed_id <= MAX_ID else None


def newest_feeds(session: Session, limit: int) -> list[Feed]:
    """The ``limit`` most recently added feeds, newest first."""
    return list(session.scalars(select(Feed).order_by(Feed.id.desc()).limit(limit)))


def all_feeds(session: Session) -> Iterator[Feed]:
    """Every feed, oldest first (streamed, for exports)."""
    return iter(session.scalars(select(Feed).order_by(Feed.id)))


def feeds_page(
    session: Session, *, limit: int, cursor: str | None = None, user_id: int | None = None
) -> Page[Feed]:
    """Feeds (those ``user_id`` follows, when given), newest first."""
    stmt = select(Feed).order_by(Feed.id.desc()).limit(limit + 1)
    if user_id is not None:
        stmt = stmt.join(Subscription, Subscription.feed_id == Feed.id).where(
            Subscription.user_id == user_id
        )
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        try:
            stmt = stmt.where(Feed.id < int(last_id))
        except ValueError:
            raise BadCursor("The cursor is not valid.") from None
    return page_of(list(session.scalars(stmt)), limit, lambda feed: (feed.id,))


def feeds_failing_with(session: Session, code: str, *, since: datetime) -> list[Feed]:
    """Feeds whose latest error is ``code`` and that had such a failed fetch since ``since``."""
    failed_recently = (
        select(Fetch.feed_id)
        .where(
            Fetch.state == FetchState.FAILED,
            Fetch.error_code == code,
            Fetch.finished_at >= since,
        )
        .distinct()
    )
    return list(
        session.scalars(
            select(Feed)
            .where(Feed.last_error_code == code, Feed.id.in_(failed_recently))
            .order_by(Feed.id)
        )
    )


def _change(session: Session, which: ColumnElement[bool], change: Change) -> int:
    """Write ``change`` on the feeds ``which`` selects; returns how many."""
    values: dict[str, object] = {"state": change.state, "next_fetch_at": change.next_fetch_at}
    if change.error_count is not None:
        values["error_count"] = change.error_count
    result = session.execute(
        update(Feed).where(which).values(values).execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]


def pause_feed(session: Session, feed_id: int) -> bool:
    """Stop refreshing the feed; False when there is no such feed."""
    return _change(session, Feed.id == feed_id, paused()) > 0


def resume_feed(session: Session, feed_id: int, now: datetime) -> bool:
    """Refresh the feed again, starting now, with a clean error count."""
    return _change(session, Feed.id == feed_id, resumed(now)) > 0


def resume_paused_feeds(session: Session, now: datetime) -> int:
    """Resume every paused feed (an admin action); returns how many."""
    return _change(session, Feed.state == FeedState.PAUSED, resumed(now))


def delete_feed(session: Session, feed_id: int) -> bool:
    """Remove the feed; its items and fetches go with it (ON DELETE CASCADE)."""
    result = session.execute(
        delete(Feed).where(Feed.id == feed_id).execution_options(synchronize_session=False)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def delete_feed_without_fetches(session: Session, feed_id: int) -> None:
    """Remove a feed that has no fetch (a submission whose job Redis refused); a feed a
    concurrent request has attached a fetch to meanwhile stays."""
    session.execute(
        delete(Feed).where(Feed.id == feed_id, ~exists().where(Fetch.feed_id == feed_id))
    )


def claim_due_feeds(
    session: Session, *, now: datetime, limit: int, policy: Policy
) -> list[tuple[int, datetime]]:
    """Lock up to ``limit`` feeds due at ``now`` (oldest due first) that someone
    follows, give each its provisional next fetch time, and return their ids and due times.

    ``FOR UPDATE SKIP LOCKED``: schedulers of several dynos claim disjoint sets.
    The provisional time is app.feed_state.provisional_next, computed per row and
    moved by up to ±JITTER of the interval, as app.feed_state.with_jitter moves a
    success's: a refresh that keeps its interval keeps this time
    (app.storage.outcomes), so feeds claimed together drift apart here.
    """
    due = [
        (feed_id, due_at)
        for feed_id, due_at in session.execute(
            select(Feed.id, Feed.next_fetch_at)
            .where(
                Feed.state.in_(sorted(REFRESHABLE)),
                Feed.next_fetch_at <= now,
                # A feed nobody follows is not refreshed (its last subscriber's
                # unsubscription also cleared next_fetch_at: this covers a fetch
                # that was running then and scheduled the next one).
                exists().where(Subscription.feed_id == Feed.id),
            )
            .order_by(Feed.next_fetch_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ]
    if due:
        interval = func.coalesce(Feed.refresh_interval, policy.refresh_default)
        session.execute(
            update(Feed)
            .where(Feed.id.in_([feed_id for feed_id, _ in due]))
            .values(
                next_fetch_at=now
                + func.make_interval(
                    0, 0, 0, 0, 0, 0, interval * (1 + JITTER * (2 * func.random() - 1))
                )
            ),
            execution_options={"synchronize_session": False},
        )
    return due

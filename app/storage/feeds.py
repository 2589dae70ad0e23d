"""The feeds table: creating and reading feeds, state changes, the scheduler's claim.

State changes take their rules from app.feed_state. Each is one statement, so it
composes with the scheduler's ``FOR UPDATE SKIP LOCKED`` claims; callers commit.
A fetch's outcome is written to its feed by app.storage.outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.feed_state import REFRESHABLE, Change, FeedState, Policy, paused, resumed
from app.storage.models import (
    MAX_ID,
    Feed,
    Fetch,
    FetchState,
    Subscription,
    states_predicate,
)
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


#: The claim, one statement: take up to :limit rows of feed_schedule due at :now, oldest
#: first (``FOR UPDATE SKIP LOCKED``: schedulers of several dynos take disjoint rows), delete
#: them, and give each feed still scheduled at that time its provisional next fetch time.
#: The feed's update changes no indexed column (a HOT update: one heap page per feed, no
#: index leaves); its trigger appends the new time to feed_schedule. A row whose feed has
#: moved on (another time, no longer refreshable, deleted) matches nothing and is just
#: deleted. A feed nobody follows gets no time (its last subscriber's unsubscription clears
#: next_fetch_at the same way; this covers a fetch that was running then and scheduled the
#: next one), so a new subscription schedules it again.
_CLAIM = text(
    f"""
    WITH due AS (
        DELETE FROM feed_schedule
        WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM feed_schedule WHERE due_at <= :now
            ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED))
        RETURNING feed_id, due_at
    ), claimed AS (
        UPDATE feeds
        SET next_fetch_at = CASE
            WHEN EXISTS (SELECT 1 FROM subscriptions WHERE subscriptions.feed_id = feeds.id)
            THEN CAST(:now AS timestamptz) + make_interval(secs =>
                coalesce(feeds.refresh_interval, :default_interval)
                * (1 + :jitter * (2 * random() - 1)))
            END
        FROM due
        WHERE feeds.id = due.feed_id AND feeds.next_fetch_at = due.due_at
          AND feeds.{states_predicate(REFRESHABLE)}
        RETURNING feeds.id, due.due_at, feeds.next_fetch_at IS NOT NULL AS followed
    )
    -- Every row taken, stale ones too (followed is NULL): how many were taken tells the
    -- scheduler whether more are due.
    SELECT due.feed_id, due.due_at, claimed.followed
    FROM due LEFT JOIN claimed ON claimed.id = due.feed_id AND claimed.due_at = due.due_at
    """
)


@dataclass(frozen=True)
class DueClaim:
    """What one claim took: the feeds to refresh (id, due time; oldest first), and how
    many rows of feed_schedule it took, stale ones included: as many as its limit means
    that more may be due now."""

    feeds: list[tuple[int, datetime]]
    taken: int


def claim_due_feeds(
    session: Session, *, now: datetime, limit: int, policy: Policy
) -> DueClaim:
    """Claim up to ``limit`` feeds due at ``now`` (oldest due first) that someone follows,
    give each its provisional next fetch time, and return their ids and due times
    (:class:`DueClaim`).

    Schedulers of several dynos claim disjoint sets (see _CLAIM). The provisional time is
    app.feed_state.provisional_next, computed per row and moved by up to ±JITTER of the
    interval, as app.feed_state.with_jitter moves a success's: a refresh that keeps its
    interval keeps this time (app.storage.outcomes), so feeds claimed together drift apart
    here.
    """
    rows = session.execute(
        _CLAIM,
        {
            "now": now,
            "limit": limit,
            "default_interval": policy.refresh_default,
            "jitter": JITTER,
        },
    ).all()
    feeds = sorted(
        ((feed_id, due_at) for feed_id, due_at, followed in rows if followed),
        key=lambda row: (row[1], row[0]),
    )
    return DueClaim(feeds, len(rows))

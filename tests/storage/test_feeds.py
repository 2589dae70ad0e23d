"""The feeds table (app/storage/feeds.py) against real Postgres: creating, reading, state
changes by a person, and the scheduler's claim held against app/feed_state.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from app.feed_state import REFRESHABLE, FeedState, Policy, paused, provisional_next, resumed
from app.storage import feeds
from app.storage.db import Database
from app.storage.models import FEEDS_FILLFACTOR, Feed, Fetch, FetchState
from app.storage.pagination import BadCursor
from tests.storage.rows import add_feed, add_fetch, add_follower

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = Policy(refresh_default=1800, refresh_min=300, refresh_max=86400, max_errors=10)


def _read(db: Database, feed_id: int) -> Feed:
    with db.session() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        return feed


def test_upsert_creates_a_feed_once_and_then_finds_it(db: Database) -> None:
    with db.session() as session:
        feed, created = feeds.upsert_feed(session, "https://e.example/feed")
        again, created_again = feeds.upsert_feed(session, "https://e.example/feed")
        session.commit()
    assert created and not created_again and again.id == feed.id
    assert (feed.url, feed.current_url, feed.state) == (
        "https://e.example/feed",
        "https://e.example/feed",
        FeedState.NEW,
    )


def test_get_feed_answers_none_for_unknown_and_out_of_range_ids(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session)
        session.commit()
        assert feeds.get_feed(session, feed.id) is feed
        assert feeds.get_feed(session, feed.id + 1) is None
        assert feeds.get_feed(session, 2**63) is None
        assert feeds.get_feed(session, 0) is None


def test_feeds_come_newest_first_a_page_at_a_time(db: Database) -> None:
    with db.session() as session:
        ids = [add_feed(session, f"https://e.example/{i}").id for i in range(5)]
        session.commit()
        pages, cursor = [], None
        while True:
            page = feeds.feeds_page(session, limit=2, cursor=cursor)
            pages.append([f.id for f in page.rows])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
        assert [f.id for f in feeds.newest_feeds(session, 3)] == ids[::-1][:3]
        assert [f.id for f in feeds.all_feeds(session)] == ids


def test_a_cursor_that_is_not_ours_is_refused(db: Database) -> None:
    with db.session() as session:
        for cursor in ("!!!", "bm90LWEtbnVtYmVy"):  # not base64; "not-a-number"
            try:
                feeds.feeds_page(session, limit=2, cursor=cursor)
            except BadCursor:
                continue
            raise AssertionError(f"{cursor!r} was accepted")


def test_pause_and_resume_write_what_the_rules_say(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session, state=FeedState.ERROR, error_count=4, next_fetch_at=NOW)
        session.commit()
        assert feeds.pause_feed(session, feed.id)
        session.commit()
    stopped = _read(db, feed.id)
    assert (stopped.state, stopped.next_fetch_at, stopped.error_count) == (
        paused().state,
        paused().next_fetch_at,
        4,
    )
    with db.session() as session:
        assert feeds.resume_feed(session, feed.id, NOW)
        session.commit()
    again = _read(db, feed.id)
    assert (again.state, again.error_count, again.next_fetch_at) == (
        resumed(NOW).state,
        resumed(NOW).error_count,
        NOW,
    )


def test_actions_on_a_missing_feed_say_so(db: Database) -> None:
    with db.session() as session:
        assert not feeds.pause_feed(session, 12345)
        assert not feeds.resume_feed(session, 12345, NOW)
        assert not feeds.delete_feed(session, 12345)


def test_resume_paused_feeds_touches_only_paused_ones(db: Database) -> None:
    with db.session() as session:
        a = add_feed(session, "https://a.example/", state=FeedState.PAUSED)
        b = add_feed(session, "https://b.example/", state=FeedState.GONE)
        session.commit()
        assert feeds.resume_paused_feeds(session, NOW) == 1
        session.commit()
    assert _read(db, a.id).state == FeedState.ACTIVE
    assert _read(db, b.id).state == FeedState.GONE


def test_deleting_a_feed_takes_its_fetches_along(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session)
        add_fetch(session, feed)
        session.commit()
        assert feeds.delete_feed(session, feed.id)
        session.commit()
        assert session.scalar(select(Fetch.id)) is None


def test_a_feed_without_fetches_is_removed_but_one_with_a_fetch_stays(db: Database) -> None:
    with db.session() as session:
        bare = add_feed(session, "https://a.example/")
        busy = add_feed(session, "https://b.example/")
        add_fetch(session, busy)
        session.commit()
        feeds.delete_feed_without_fetches(session, bare.id)
        feeds.delete_feed_without_fetches(session, busy.id)
        session.commit()
        assert list(session.scalars(select(Feed.id))) == [busy.id]


def test_feeds_failing_with_needs_the_code_as_the_feeds_latest_error(db: Database) -> None:
    with db.session() as session:
        still = add_feed(session, "https://a.example/", last_error_code="timeout")
        recovered = add_feed(session, "https://b.example/", last_error_code=None)
        for feed in (still, recovered):
            add_fetch(session, feed, FetchState.FAILED, error_code="timeout", finished_at=NOW)
        session.commit()
        found = feeds.feeds_failing_with(session, "timeout", since=NOW - timedelta(hours=1))
        assert [f.url for f in found] == ["https://a.example/"]


def test_the_scheduler_claims_due_refreshable_feeds_as_the_rules_say(db: Database) -> None:
    due = NOW - timedelta(minutes=1)
    with db.session() as session:
        rows = {
            (state, interval): add_follower(
                session,
                add_feed(
                    session,
                    f"https://e.example/{state}/{interval}",
                    state=state,
                    refresh_interval=interval,
                    next_fetch_at=due,
                ),
            ).id
            for state in FeedState
            for interval in (None, 600)
        }
        later = add_follower(session, add_feed(session, "https://later.example/",
                         state=FeedState.ACTIVE,
                         next_fetch_at=NOW + timedelta(minutes=1))).id  # fmt: skip
        unfollowed = add_feed(session, "https://nobody.example/", state=FeedState.ACTIVE,
                              next_fetch_at=due).id  # fmt: skip
        session.commit()
        claimed = feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY).feeds
        session.commit()
    assert {feed_id for feed_id, _ in claimed} == {
        feed_id for (state, _), feed_id in rows.items() if state in REFRESHABLE
    }
    # Nobody follows it: not refreshed, and unscheduled as an unsubscription leaves it.
    assert _read(db, unfollowed).next_fetch_at is None
    assert all(due_at == due for _, due_at in claimed)
    for (state, interval), feed_id in rows.items():
        stored = _read(db, feed_id).next_fetch_at
        if state not in REFRESHABLE:
            assert stored == due
            continue
        # The provisional time, moved by up to JITTER of the interval either way.
        centre = provisional_next(NOW, interval, POLICY)
        spread = (centre - NOW) * feeds.JITTER
        assert centre - spread <= stored <= centre + spread
    assert _read(db, later).next_fetch_at == NOW + timedelta(minutes=1)


def test_the_scheduler_claims_the_longest_due_first_up_to_its_limit(db: Database) -> None:
    with db.session() as session:
        ids = [
            add_follower(session, add_feed(session, f"https://e.example/{i}",
                     state=FeedState.ACTIVE,
                     next_fetch_at=NOW - timedelta(minutes=i))).id  # fmt: skip
            for i in range(1, 5)
        ]
        session.commit()
        claimed = feeds.claim_due_feeds(session, now=NOW, limit=2, policy=POLICY).feeds
    assert [feed_id for feed_id, _ in claimed] == [ids[3], ids[2]]


def test_two_schedulers_claim_disjoint_feeds(db: Database) -> None:
    with db.session() as session:
        for i in range(6):
            add_follower(session, add_feed(session, f"https://e.example/{i}",
                         state=FeedState.ACTIVE,
                         next_fetch_at=NOW - timedelta(minutes=1)))  # fmt: skip
        session.commit()
    first_claimed = threading.Event()
    release = threading.Event()
    first: list[tuple[int, datetime]] = []

    def hold_a_claim() -> None:
        with db.session() as session:
            first.extend(feeds.claim_due_feeds(session, now=NOW, limit=3, policy=POLICY).feeds)
            first_claimed.set()
            release.wait(10)
            session.commit()

    holder = threading.Thread(target=hold_a_claim)
    holder.start()
    assert first_claimed.wait(10)
    with db.session() as session:
        second = feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY).feeds
        session.commit()
    release.set()
    holder.join(10)
    assert len(first) == 3 and len(second) == 3
    assert not {f for f, _ in first} & {f for f, _ in second}


def test_feeds_claimed_together_get_different_next_fetch_times(db: Database) -> None:
    with db.session() as session:
        for i in range(20):
            due = NOW - timedelta(minutes=1)
            feed = add_feed(session, f"https://e.example/{i}", state=FeedState.ACTIVE,
                            next_fetch_at=due)  # fmt: skip
            add_follower(session, feed)
        session.commit()
        feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY)
        session.commit()
        times = set(session.scalars(select(Feed.next_fetch_at)))
    assert len(times) > 1


def test_the_feeds_table_leaves_room_in_its_pages_for_updates_in_place(db: Database) -> None:
    with db.session() as session:
        options = session.scalar(
            text("SELECT reloptions FROM pg_class WHERE oid = 'feeds'::regclass")
        )
    assert f"fillfactor={FEEDS_FILLFACTOR}" in options


def test_a_claim_writes_each_feed_in_place_without_new_index_entries(db: Database) -> None:
    with db.session() as session:
        for i in range(5):
            add_follower(session, add_feed(session, f"https://e.example/{i}",
                         state=FeedState.ACTIVE,
                         next_fetch_at=NOW - timedelta(minutes=1)))  # fmt: skip
        session.commit()
        claimed = feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY).feeds
        # This transaction's own counts: every update of a feed was HOT.
        updated, hot = session.execute(
            text(
                "SELECT pg_stat_get_xact_tuples_updated('feeds'::regclass),"
                " pg_stat_get_xact_tuples_hot_updated('feeds'::regclass)"
            )
        ).one()
        session.commit()
    assert len(claimed) == 5
    assert updated == hot == 5


def test_a_feed_whose_time_moved_after_it_was_scheduled_is_claimed_at_its_new_time_only(
    db: Database,
) -> None:
    with db.session() as session:
        moved_earlier = add_follower(session, add_feed(session, "https://e.example/a",
                                     state=FeedState.ACTIVE,
                                     next_fetch_at=NOW - timedelta(minutes=2)))  # fmt: skip
        moved_later = add_follower(session, add_feed(session, "https://e.example/b",
                                   state=FeedState.ACTIVE,
                                   next_fetch_at=NOW - timedelta(minutes=3)))  # fmt: skip
        session.commit()
        moved_earlier.next_fetch_at = NOW - timedelta(minutes=1)
        moved_later.next_fetch_at = NOW + timedelta(minutes=10)
        session.commit()
        claimed = feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY).feeds
        session.commit()
        left = session.scalar(
            text("SELECT count(*) FROM feed_schedule WHERE due_at <= :now"), {"now": NOW}
        )
    assert claimed == [(moved_earlier.id, NOW - timedelta(minutes=1))]
    assert _read(db, moved_later.id).next_fetch_at == NOW + timedelta(minutes=10)
    assert left == 0  # the rows of the times they no longer have are gone


def test_a_paused_feed_is_scheduled_again_when_it_is_resumed(db: Database) -> None:
    with db.session() as session:
        feed = add_follower(session, add_feed(session, "https://e.example/p",
                            state=FeedState.ACTIVE,
                            next_fetch_at=NOW - timedelta(minutes=5)))  # fmt: skip
        session.commit()
        feeds.pause_feed(session, feed.id)
        session.commit()
        while_paused = feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY).feeds
        feeds.resume_feed(session, feed.id, NOW - timedelta(seconds=1))
        session.commit()
        after_resume = feeds.claim_due_feeds(session, now=NOW, limit=100, policy=POLICY).feeds
        session.commit()
    assert while_paused == []
    assert after_resume == [(feed.id, NOW - timedelta(seconds=1))]


def test_a_claim_counts_the_stale_rows_it_took_so_the_scheduler_knows_more_may_be_due(
    db: Database,
) -> None:
    with db.session() as session:
        moved = [
            add_follower(session, add_feed(session, f"https://e.example/s{i}",
                         state=FeedState.ACTIVE,
                         next_fetch_at=NOW - timedelta(minutes=3 - i)))  # fmt: skip
            for i in range(3)
        ]
        session.commit()
        for feed in moved[:2]:  # their first times are stale now
            feed.next_fetch_at = NOW + timedelta(minutes=10)
        session.commit()
        first = feeds.claim_due_feeds(session, now=NOW, limit=2, policy=POLICY)
        session.commit()
        second = feeds.claim_due_feeds(session, now=NOW, limit=2, policy=POLICY)
        session.commit()
    assert (first.feeds, first.taken) == ([], 2)
    assert (second.feeds, second.taken) == ([(moved[2].id, NOW - timedelta(minutes=1))], 1)

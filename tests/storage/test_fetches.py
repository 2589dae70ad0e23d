"""The fetches table (app/storage/fetches.py) against real Postgres: every transition is one
guarded statement, so a fetch that has moved on is never moved back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.storage import fetches
from app.storage.db import Database
from app.storage.icons import IconRecord, save_icon
from app.storage.models import Feed, Fetch, FetchState, FetchTrigger
from tests.storage.rows import add_feed, add_fetch

NOW = datetime.now(UTC)
JOB = uuid.UUID("00000000-0000-4000-8000-000000000001")
SUCCESSOR = uuid.UUID("00000000-0000-4000-8000-000000000002")


def _fetch(db: Database, fetch_id: uuid.UUID) -> Fetch:
    with db.session() as session:
        fetch = session.get(Fetch, fetch_id)
        assert fetch is not None
        return fetch


def _queued(db: Database, count: int = 1, **values: object) -> list[uuid.UUID]:
    """``count`` feeds with a queued fetch each; the fetches' ids."""
    with db.session() as session:
        ids = [
            add_fetch(session, add_feed(session, f"https://e.example/{i}"), **values).id
            for i in range(count)
        ]
        session.commit()
    return ids


# -- creating ------------------------------------------------------------------------------


def test_a_feed_gets_one_pending_fetch_and_a_second_request_finds_it(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session)
        first, created = fetches.create_fetch(session, feed.id, FetchTrigger.SUBMITTED)
        again, created_again = fetches.create_fetch(session, feed.id, FetchTrigger.MANUAL)
        session.commit()
    assert created and not created_again and again.id == first.id
    assert first.state == FetchState.QUEUED and first.enqueued_at is not None


def test_a_finished_fetch_does_not_stop_the_next_one(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session)
        add_fetch(session, feed, FetchState.SUCCEEDED)
        fetch, created = fetches.create_fetch(session, feed.id, FetchTrigger.MANUAL)
        session.commit()
    assert created and fetch.state == FetchState.QUEUED


def test_refresh_fetches_travel_batch_size_to_a_job_and_skip_feeds_already_pending(
    db: Database,
) -> None:
    with db.session() as session:
        due = [(add_feed(session, f"https://e.example/{i}").id, NOW) for i in range(5)]
        busy = add_feed(session, "https://busy.example/")
        add_fetch(session, busy)
        batches = fetches.create_refresh_fetches(
            session, [*due, (busy.id, NOW)], now=NOW, batch_size=2
        )
        session.commit()
        rows = session.scalars(select(Fetch).where(Fetch.trigger == FetchTrigger.REFRESH)).all()
    assert sorted(len(ids) for ids in batches.values()) == [1, 2, 2]
    created = {fetch_id for ids in batches.values() for fetch_id in ids}
    by_id = {row.id: row for row in rows if row.id in created}
    assert {by_id[f].feed_id for f in created} == {feed_id for feed_id, _ in due}
    for job_id, ids in batches.items():
        assert {by_id[f].job_id for f in ids} == {job_id}
    assert {(row.scheduled_for, row.state) for row in by_id.values()} == {(NOW, FetchState.QUEUED)}


def test_delete_fetch_removes_only_that_fetch(db: Database) -> None:
    keep, gone = _queued(db, 2)
    with db.session() as session:
        fetches.delete_fetch(session, gone)
        session.commit()
        assert list(session.scalars(select(Fetch.id))) == [keep]


# -- reading -------------------------------------------------------------------------------


def test_pending_fetches_map_feeds_to_their_queued_or_running_fetch(db: Database) -> None:
    with db.session() as session:
        a = add_feed(session, "https://a.example/")
        b = add_feed(session, "https://b.example/")
        pending = add_fetch(session, a, FetchState.RUNNING)
        add_fetch(session, b, FetchState.SUCCEEDED)
        session.commit()
        found = fetches.pending_fetches(session, [a.id, b.id])
        assert list(found) == [a.id] and found[a.id].id == pending.id
        assert fetches.pending_fetches(session, []) == {}
        assert fetches.pending_fetch(session, a.id) is pending
        assert fetches.pending_fetch(session, b.id) is None


def test_fetches_by_id_leaves_out_unknown_ids(db: Database) -> None:
    (known,) = _queued(db)
    with db.session() as session:
        found = fetches.fetches_by_id(session, [known, uuid.uuid4()])
        assert list(found) == [known]
        assert fetches.fetches_by_id(session, []) == {}
        assert session.get(Fetch, known) is found[known]  # loaded into the session


# -- claiming ------------------------------------------------------------------------------


def test_claiming_a_queued_fetch_runs_it_and_reads_its_feed(db: Database) -> None:
    with db.session() as session:
        feed = add_feed(session, etag='"e"', refresh_interval=600)
        session.execute(update(Feed).where(Feed.id == feed.id).values(current_url="https://moved/"))
        fetch = add_fetch(session, feed)
        session.commit()
        claim = fetches.claim_fetch(session, fetch.id)
        session.commit()
    assert claim is not None
    assert (claim.attempt, claim.feed_id, claim.url, claim.etag, claim.refresh_interval) == (
        1,
        feed.id,
        "https://moved/",
        '"e"',
        600,
    )
    running = _fetch(db, fetch.id)
    assert running.state == FetchState.RUNNING and running.started_at is not None


def test_a_claim_reads_the_feeds_last_icon_search_with_the_feed(db: Database) -> None:
    searched = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with db.session() as session:
        never, found, failed = (add_feed(session, f"https://s.example/{n}") for n in range(3))
        save_icon(
            session,
            found.id,
            declared_url="https://s.example/i.png",
            now=searched,
            found=("https://s.example/i.png", "image/png", b"\x89PNG", "a" * 64),
        )
        save_icon(session, failed.id, declared_url=None, now=searched, error="no icon")
        ids = [add_fetch(session, feed).id for feed in (never, found, failed)]
        session.commit()
        claims = fetches.claim_fetches(session, ids)
        session.commit()
    assert [claims[i].icon for i in ids] == [
        None,
        IconRecord(searched, "https://s.example/i.png", failed=False),
        IconRecord(searched, None, failed=True),
    ]


def test_a_fetch_left_running_by_a_dead_worker_is_claimed_again_as_a_new_attempt(
    db: Database,
) -> None:
    (fetch_id,) = _queued(db)
    with db.session() as session:
        assert fetches.claim_fetch(session, fetch_id) is not None
        claim = fetches.claim_fetch(session, fetch_id)
        session.commit()
    assert claim is not None and claim.attempt == 2


def test_a_finished_fetch_is_not_claimed(db: Database) -> None:
    (fetch_id,) = _queued(db, state=FetchState.SUCCEEDED)
    with db.session() as session:
        assert fetches.claim_fetch(session, fetch_id) is None


def test_a_batch_claims_only_the_fetches_that_still_name_it(db: Database) -> None:
    mine = _queued(db, 2, job_id=JOB)
    with db.session() as session:
        other = add_fetch(session, add_feed(session, "https://other.example/"), job_id=SUCCESSOR)
        own_job = add_fetch(session, add_feed(session, "https://own.example/"))
        session.commit()
        claims = fetches.claim_fetches(session, [*mine, other.id, own_job.id], JOB)
        session.commit()
    assert set(claims) == set(mine)
    assert _fetch(db, other.id).state == FetchState.QUEUED
    assert _fetch(db, own_job.id).state == FetchState.QUEUED


def test_unclaiming_undoes_the_claim_of_a_deferred_fetch(db: Database) -> None:
    (fetch_id,) = _queued(db)
    with db.session() as session:
        fetches.claim_fetch(session, fetch_id)
        fetches.unclaim_fetch(session, fetch_id)
        session.commit()
    fetch = _fetch(db, fetch_id)
    assert (fetch.state, fetch.attempts) == (FetchState.QUEUED, 0)


# -- handing over and putting back ---------------------------------------------------------


def test_a_batch_hands_its_unstarted_fetches_to_a_successor(db: Database) -> None:
    claimed, waiting, elsewhere = _queued(db, 3, job_id=JOB)
    with db.session() as session:
        fetches.claim_fetches(session, [claimed], JOB)
        session.execute(update(Fetch).where(Fetch.id == elsewhere).values(job_id=None))
        moved = fetches.hand_over(session, [claimed, waiting, elsewhere], JOB, SUCCESSOR)
        session.commit()
    assert set(moved) == {claimed, waiting}
    for fetch_id in moved:
        fetch = _fetch(db, fetch_id)
        assert (fetch.state, fetch.job_id, fetch.attempts) == (FetchState.QUEUED, SUCCESSOR, 0)
    assert _fetch(db, elsewhere).job_id is None


def test_requeue_puts_a_pending_fetch_back_and_detach_takes_it_out_of_its_batch(
    db: Database,
) -> None:
    kept, detached = _queued(db, 2, job_id=JOB)
    with db.session() as session:
        fetches.claim_fetches(session, [kept, detached], JOB)
        assert fetches.requeue_fetch(session, kept)
        assert fetches.requeue_fetch(session, detached, detach=True)
        session.commit()
    assert (_fetch(db, kept).state, _fetch(db, kept).job_id) == (FetchState.QUEUED, JOB)
    assert (_fetch(db, detached).state, _fetch(db, detached).job_id) == (FetchState.QUEUED, None)


def test_a_finished_fetch_is_neither_requeued_nor_finished_again(db: Database) -> None:
    (fetch_id,) = _queued(db)
    with db.session() as session:
        assert fetches.finish_fetch(session, fetch_id, state=FetchState.FAILED, error_code="x")
        assert not fetches.requeue_fetch(session, fetch_id)
        assert not fetches.finish_fetch(session, fetch_id, state=FetchState.SUCCEEDED)
        session.commit()
    fetch = _fetch(db, fetch_id)
    assert (fetch.state, fetch.error_code) == (FetchState.FAILED, "x")
    assert fetch.finished_at is not None


def test_the_fetches_of_a_job_are_its_own_fetch_or_a_batchs_pending_members(
    db: Database,
) -> None:
    members = _queued(db, 2, job_id=JOB)
    with db.session() as session:
        alone = add_fetch(session, add_feed(session, "https://alone.example/"))
        done = add_fetch(
            session, add_feed(session, "https://done.example/"), FetchState.SUCCEEDED, job_id=JOB
        )
        session.commit()
        assert {f.id for f in fetches.fetches_of_job(session, JOB)} == set(members)
        assert [f.id for f in fetches.fetches_of_job(session, alone.id)] == [alone.id]
        assert done.id not in {f.id for f in fetches.fetches_of_job(session, JOB)}


# -- the reconciler's view -------------------------------------------------------------------


def test_stale_fetches_are_those_queued_or_running_past_their_bound(db: Database) -> None:
    old, young, running_old, running_young = _queued(db, 4)
    with db.session() as session:
        session.execute(
            update(Fetch)
            .where(Fetch.id == old)
            .values(enqueued_at=NOW - timedelta(minutes=5))
        )
        session.execute(
            update(Fetch)
            .where(Fetch.id.in_([running_old, running_young]))
            .values(state=FetchState.RUNNING)
        )
        session.execute(
            update(Fetch)
            .where(Fetch.id == running_old)
            .values(started_at=NOW - timedelta(minutes=10))
        )
        session.execute(update(Fetch).where(Fetch.id == running_young).values(started_at=NOW))
        session.execute(update(Fetch).where(Fetch.id == young).values(enqueued_at=NOW))
        session.commit()
        stale = fetches.stale_fetches(
            session,
            queued_before=NOW - timedelta(minutes=1),
            running_before=NOW - timedelta(minutes=2),
        )
        assert {f.id for f in stale} == {old, running_old}


def test_mark_enqueued_restarts_the_reconcilers_clock(db: Database) -> None:
    (fetch_id,) = _queued(db, enqueued_at=NOW - timedelta(hours=1))
    with db.session() as session:
        fetches.mark_enqueued(session, [fetch_id])
        fetches.mark_enqueued(session, [])
        session.commit()
    enqueued_at = _fetch(db, fetch_id).enqueued_at
    assert enqueued_at is not None and enqueued_at > NOW - timedelta(minutes=1)


def test_a_claim_reads_the_hub_and_topic_the_feed_last_named(db: Database) -> None:
    (fetch_id,) = _queued(db)
    with db.session() as session:
        feed_id = session.scalar(select(Fetch.feed_id).where(Fetch.id == fetch_id))
        session.execute(
            update(Feed).where(Feed.id == feed_id).values(hub_url="https://h/", topic_url="t")
        )
        claim = fetches.claim_fetch(session, fetch_id)
    assert claim is not None and (claim.hub_url, claim.topic_url) == ("https://h/", "t")

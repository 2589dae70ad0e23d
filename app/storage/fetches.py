"""The fetches table: creating, claiming, handing over, finishing and finding fetches.

Every transition is a single guarded UPDATE, so two workers (or a worker and
the reconciler) racing on one fetch cannot both move it. A success is written
with its feed by app.storage.outcomes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.storage.icons import IconRecord
from app.storage.models import PENDING_PREDICATE, PENDING_STATES, Fetch, FetchState, FetchTrigger
from app.storage.subscriptions import followed_by


def followed_fetch(session: Session, user_id: int, fetch_id: uuid.UUID) -> Fetch | None:
    """The fetch of that id if the person follows its feed, else None: one statement for
    a status poll, which clients send every second while a fetch is pending."""
    theirs = followed_by(user_id, Fetch.feed_id)
    return session.scalar(select(Fetch).where(Fetch.id == fetch_id, theirs))


def fetches_by_id(session: Session, fetch_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Fetch]:
    """The fetches of ``fetch_ids`` that exist, by id."""
    ids = list(fetch_ids)
    if not ids:
        return {}
    return {fetch.id: fetch for fetch in session.scalars(select(Fetch).where(Fetch.id.in_(ids)))}


def pending_fetch(session: Session, feed_id: int) -> Fetch | None:
    """The feed's queued or running fetch, if it has one."""
    return session.scalar(
        select(Fetch).where(Fetch.feed_id == feed_id, Fetch.state.in_(PENDING_STATES))
    )


def pending_fetches(session: Session, feed_ids: Iterable[int]) -> dict[int, Fetch]:
    """The queued or running fetch of each of ``feed_ids`` that has one."""
    ids = list(feed_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(Fetch).where(Fetch.feed_id.in_(ids), Fetch.state.in_(PENDING_STATES))
    )
    return {fetch.feed_id: fetch for fetch in rows}


def latest_succeeded_fetch(session: Session, feed_id: int) -> Fetch | None:
    """The feed's most recent successful fetch, or None."""
    return session.scalar(
        select(Fetch)
        .where(Fetch.feed_id == feed_id, Fetch.state == FetchState.SUCCEEDED)
        .order_by(Fetch.finished_at.desc().nulls_last())
        .limit(1)
    )


def create_fetch(session: Session, feed_id: int, trigger: FetchTrigger) -> tuple[Fetch, bool]:
    """Create a queued fetch for the feed, or return its pending one.

    Returns ``(fetch, created)``. The partial unique index on pending fetches
    makes this safe against concurrent submissions of the same feed.
    """
    for _ in range(3):
        fetch = session.execute(
            pg_insert(Fetch)
            .values(
                id=uuid.uuid4(),
                feed_id=feed_id,
                trigger=trigger,
                state=FetchState.QUEUED,
                # The job is enqueued right after the commit; if that fails the
                # row is deleted again, so "enqueued" can be stamped now.
                enqueued_at=func.now(),
            )
            .on_conflict_do_nothing(
                index_elements=[Fetch.feed_id],
                index_where=Fetch.state.in_(PENDING_STATES),
            )
            .returning(Fetch)
        ).scalar_one_or_none()
        if fetch is not None:
            return fetch, True
        existing = pending_fetch(session, feed_id)
        if existing is not None:
            return existing, False
        # The pending fetch finished between our insert and our select: try again.
    raise RuntimeError(f"could not create a fetch for feed {feed_id}")


def delete_fetch(session: Session, fetch_id: uuid.UUID) -> None:
    """Remove a fetch whose job never reached Redis (the submission answers 503)."""
    session.execute(delete(Fetch).where(Fetch.id == fetch_id))


def create_refresh_fetches(
    session: Session, due: list[tuple[int, datetime]], *, now: datetime, batch_size: int
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Create a queued refresh fetch for each due ``(feed id, due time)``, ``batch_size`` to
    an RQ job; returns the job ids with the fetches each carries (their rows name it).

    One bulk insert. A feed that already has a pending fetch gets none (the partial
    unique index), so each due feed is fetched once however many schedulers run.
    """
    job_ids = [uuid.uuid4() for _ in range(0, len(due), batch_size)]
    created = session.execute(
        pg_insert(Fetch)
        .on_conflict_do_nothing(index_elements=[Fetch.feed_id], index_where=text(PENDING_PREDICATE))
        .returning(Fetch.id, Fetch.job_id),
        [
            {
                "id": uuid.uuid4(),
                "feed_id": feed_id,
                "trigger": FetchTrigger.REFRESH,
                "state": FetchState.QUEUED,
                "scheduled_for": due_at,
                "enqueued_at": now,
                "job_id": job_ids[index // batch_size],
            }
            for index, (feed_id, due_at) in enumerate(due)
        ],
    ).all()
    batches: dict[uuid.UUID, list[uuid.UUID]] = {}
    for fetch_id, job_id in created:
        batches.setdefault(job_id, []).append(fetch_id)
    return batches


def mark_enqueued(session: Session, fetch_ids: list[uuid.UUID]) -> None:
    """Record that their jobs are in Redis (the reconciler's clock starts here)."""
    if fetch_ids:
        session.execute(
            update(Fetch).where(Fetch.id.in_(fetch_ids)).values(enqueued_at=func.now())
        )


@dataclass(frozen=True)
class Claim:
    """A fetch taken by a job, with what the job needs of its feed."""

    attempt: int  # 1 for the first try
    feed_id: int
    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    refresh_interval: int | None
    # The WebSub hub and topic the feed's last fetch found: a fetch that finds the
    # same ones has nothing to write about them.
    hub_url: str | None = None
    topic_url: str | None = None
    # The feed's last icon search: a changed fetch decides from it whether to ask for
    # another, with no query of its own (None: never looked for).
    icon: IconRecord | None = None


# The hot path of every fetch, so one round trip: take the fetches and read their feeds.
_CLAIM = text(
    """
    UPDATE fetches
    SET state = 'running', started_at = now(), attempts = fetches.attempts + 1
    FROM feeds LEFT JOIN feed_icons ON feed_icons.feed_id = feeds.id
    WHERE fetches.id = ANY(CAST(:fetch_ids AS uuid[]))
      AND fetches.state IN ('queued', 'running')
      AND fetches.job_id IS NOT DISTINCT FROM CAST(:job_id AS uuid)
      AND feeds.id = fetches.feed_id
    RETURNING fetches.id, fetches.attempts, feeds.id, feeds.current_url, feeds.etag,
              feeds.last_modified, feeds.content_hash, feeds.refresh_interval,
              feeds.hub_url, feeds.topic_url,
              feed_icons.fetched_at, feed_icons.declared_url, feed_icons.error IS NOT NULL
    """
)


def claim_fetches(
    session: Session, fetch_ids: list[uuid.UUID], job_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Claim]:
    """Move pending fetches to running and read their feeds; those already finished
    (or gone, or handed to another job) are left out.

    ``job_id`` is the batch job running them (None: each fetch's own job). A fetch
    found ``running`` is taken too: its previous worker died.
    """
    rows = session.execute(
        _CLAIM,
        {
            "fetch_ids": [str(fetch_id) for fetch_id in fetch_ids],
            "job_id": str(job_id) if job_id else None,
        },
    )
    return {row[0]: _claim(row) for row in rows}


def _claim(row: Row[Any]) -> Claim:
    *fetch_and_feed, icon_fetched_at, icon_declared_url, icon_failed = row[1:]
    # feed_icons.fetched_at is never null: null here means the feed has no such row.
    icon = None
    if icon_fetched_at is not None:
        icon = IconRecord(icon_fetched_at, icon_declared_url, icon_failed)
    return Claim(*fetch_and_feed, icon=icon)


def claim_fetch(
    session: Session, fetch_id: uuid.UUID, job_id: uuid.UUID | None = None
) -> Claim | None:
    """:func:`claim_fetches` for one fetch."""
    return claim_fetches(session, [fetch_id], job_id).get(fetch_id)


def unclaim_fetch(session: Session, fetch_id: uuid.UUID) -> None:
    """Undo :func:`claim_fetch` for a fetch that is deferred before it started."""
    session.execute(
        update(Fetch)
        .where(Fetch.id == fetch_id, Fetch.state == FetchState.RUNNING)
        .values(state=FetchState.QUEUED, attempts=Fetch.attempts - 1)
    )


def requeue_fetch(session: Session, fetch_id: uuid.UUID, *, detach: bool = False) -> bool:
    """Put a running fetch back to queued (shutdown, retry); False if it already ended.

    ``detach`` takes it out of its batch job: it is about to get a job of its own.
    """
    values: dict[str, object] = {"state": FetchState.QUEUED, "enqueued_at": func.now()}
    if detach:
        values["job_id"] = None
    result = session.execute(
        update(Fetch).where(Fetch.id == fetch_id, Fetch.state.in_(PENDING_STATES)).values(values)
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def hand_over(
    session: Session, fetch_ids: list[uuid.UUID], from_job: uuid.UUID, to_job: uuid.UUID
) -> list[uuid.UUID]:
    """Move the fetches of batch ``from_job`` that it claimed but did not start to
    ``to_job``, queued again; returns them."""
    return list(
        session.scalars(
            update(Fetch)
            .where(
                Fetch.id.in_(fetch_ids),
                Fetch.job_id == from_job,
                Fetch.state.in_(PENDING_STATES),
            )
            .values(
                job_id=to_job,
                state=FetchState.QUEUED,
                attempts=case(
                    (Fetch.state == FetchState.RUNNING, Fetch.attempts - 1),
                    else_=Fetch.attempts,
                ),
                enqueued_at=func.now(),
            )
            .returning(Fetch.id)
        )
    )


def fetches_of_job(session: Session, job_id: uuid.UUID) -> list[Fetch]:
    """The pending fetches an RQ job carries: the fetch of that id, or a batch's members."""
    return list(
        session.scalars(
            select(Fetch).where(
                Fetch.state.in_(PENDING_STATES),
                ((Fetch.id == job_id) & Fetch.job_id.is_(None)) | (Fetch.job_id == job_id),
            )
        )
    )


def finish_fetch(
    session: Session,
    fetch_id: uuid.UUID,
    *,
    state: FetchState,
    http_status: int | None = None,
    items_new: int | None = None,
    items_updated: int | None = None,
    not_modified: bool | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    warning: str | None = None,
    discovered_url: str | None = None,
) -> bool:
    """Move a pending fetch to its terminal state; False if it had already ended."""
    assert state in (FetchState.SUCCEEDED, FetchState.FAILED)
    result = session.execute(
        update(Fetch)
        .where(Fetch.id == fetch_id, Fetch.state.in_(PENDING_STATES))
        .values(
            state=state,
            finished_at=func.now(),
            http_status=http_status,
            items_new=items_new,
            items_updated=items_updated,
            not_modified=not_modified,
            error_code=error_code,
            error_message=error_message,
            warning=warning,
            discovered_url=discovered_url,
        )
    )
    return result.rowcount > 0  # type: ignore[attr-defined]


def stale_fetches(
    session: Session, *, queued_before: datetime, running_before: datetime, limit: int = 500
) -> list[Fetch]:
    """Pending fetches whose job may be lost: queued or running for too long."""
    return list(
        session.scalars(
            select(Fetch)
            .where(
                (
                    (Fetch.state == FetchState.QUEUED)
                    & (func.coalesce(Fetch.enqueued_at, Fetch.created_at) < queued_before)
                )
                | ((Fetch.state == FetchState.RUNNING) & (Fetch.started_at < running_before))
            )
            .order_by(Fetch.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def count_crash(session: Session, fetch_id: uuid.UUID) -> int | None:
    """One more death of a worker process under this running fetch; returns its count
    of such deaths, or None when the fetch was not running (nothing died under it)."""
    return session.scalar(
        update(Fetch)
        .where(Fetch.id == fetch_id, Fetch.state == FetchState.RUNNING)
        .values(crashes=Fetch.crashes + 1)
        .returning(Fetch.crashes)
    )

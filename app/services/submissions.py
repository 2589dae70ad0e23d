"""Accepting work: turn a submission or refresh request into a committed fetch and a job.

The order matters. The fetch row is committed before the job is enqueued, so
a worker never looks for a row that is not there yet. If Redis refuses the
job, the rows written for this request are removed again and the caller
answers 503: nothing is left half-written. Before anything is written, the
submission is admitted against the queue's depth and the global budget
(app.queue.backpressure): over either, :class:`QueueFull` and nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from app.config import Settings
from app.pipeline import literal_host_blocked
from app.queue.backpressure import admit_submission
from app.queue.queues import Queues
from app.storage.feeds import delete_feed_without_fetches
from app.storage.fetches import create_fetch, delete_fetch, latest_succeeded_fetch
from app.storage.models import Feed, Fetch, FetchTrigger
from app.storage.submissions import StoredSubmission, store_submission
from app.storage.subscriptions import keep_newest_unread, unsubscribe
from app.urls import InvalidURL, normalize_url

BLOCKED = "That address is on a private or local network, which feedqueue does not fetch."


class QueueUnavailable(RuntimeError):
    """Redis could not take the job; try again shortly."""


class QueueFull(RuntimeError):
    """Too much work is waiting (QUEUE_MAX_JOBS) or arriving (SUBMIT_GLOBAL_PER_MINUTE)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Refused(ValueError):
    """A submitted address that will not be fetched: ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Submission:
    feed_id: int
    fetch: Fetch
    created: bool  # False: an already pending (or fresh) fetch was returned


@dataclass(frozen=True)
class Subscriber:
    """Who follows the submitted feed, and how (see app.storage.submissions.store_submission).

    ``fresh_for``: a feed that succeeded less than this long ago is not fetched
    again; its last fetch is the answer, at once (REFRESH_MIN_SECONDS).
    """

    user_id: int
    unread_recent: int
    fresh_for: timedelta
    folder_id: int | None = None
    title: str | None = None

    @classmethod
    def of(cls, user_id: int, settings: Settings, **values: object) -> Subscriber:
        """The subscriber ``user_id`` with the settings' rules."""
        return cls(
            user_id,
            settings.new_subscriber_unread,
            timedelta(seconds=settings.refresh_min),
            **values,  # type: ignore[arg-type]
        )


def blocked_reason(url: str, settings: Settings) -> str | None:
    """Why a normalised URL is refused before any fetch, or None to accept it.

    Refused: a literal private or local address (no DNS here; the fetcher checks
    every resolved address again), unless FETCH_ALLOW_PRIVATE_NETWORKS is on or
    the host is one of FETCH_ALLOWED_HOSTS.
    """
    if settings.fetch_allow_private_networks or not literal_host_blocked(url):
        return None
    if (urlsplit(url).hostname or "") in settings.fetch_allowed_hosts:
        return None
    return BLOCKED


def accepted_url(raw: object, settings: Settings) -> str:
    """The canonical form of a submitted feed address; Refused when it is not one to fetch."""
    try:
        url = normalize_url(raw)
    except InvalidURL as exc:
        raise Refused(exc.code, exc.message) from None
    reason = blocked_reason(url, settings)
    if reason:
        raise Refused("blocked_address", reason)
    return url


def submit_url(
    session: Session, queues: Queues, url: str, subscriber: Subscriber | None = None
) -> Submission:
    """Store the feed at (normalised) ``url``, subscribe ``subscriber`` to it, and queue
    its first or next fetch.

    Feeds are shared: a feed someone else follows and that was fetched within
    ``subscriber.fresh_for`` is not fetched again; its last successful fetch is
    returned, so the new subscriber sees its items at once. Raises QueueFull (nothing
    written) when the queue cannot take more work.
    """
    _admit(queues)
    if subscriber is None:
        stored = store_submission(session, url, user_id=None, fresh_for=None)
    else:
        stored = store_submission(
            session,
            url,
            user_id=subscriber.user_id,
            fresh_for=subscriber.fresh_for,
            title=subscriber.title,
            folder_id=subscriber.folder_id,
        )
    new_subscriber = subscriber if stored.read_upto_id is not None else None
    if new_subscriber is not None:
        keep_newest_unread(
            session,
            new_subscriber.user_id,
            stored.feed_id,
            stored.read_upto_id or 0,
            new_subscriber.unread_recent,
        )
    fetch, created = _fetch_of(session, stored)
    try:
        return _commit_and_enqueue(
            session, queues, stored.feed_id, fetch, created, drop_feed=stored.feed_inserted
        )
    except QueueUnavailable:
        # A new feed went with its rows; a known one keeps only its old followers.
        if new_subscriber is not None and not stored.feed_inserted:
            unsubscribe(session, new_subscriber.user_id, stored.feed_id)
            session.commit()
        raise


def _fetch_of(session: Session, stored: StoredSubmission) -> tuple[Fetch, bool]:
    """The submission's answer: the fetch it created, else the feed's last success
    (a fresh feed), else its pending fetch (or a new one, if that finished meanwhile)."""
    if stored.fetch is not None:
        return stored.fetch, True
    if stored.fresh:
        latest = latest_succeeded_fetch(session, stored.feed_id)
        if latest is not None:
            return latest, False
    return create_fetch(session, stored.feed_id, FetchTrigger.SUBMITTED)


def request_refresh(
    session: Session, queues: Queues, feed: Feed, trigger: FetchTrigger = FetchTrigger.MANUAL
) -> Submission:
    """Queue a fetch of an existing feed (or return its pending one); QueueFull as above."""
    _admit(queues)
    fetch, created = create_fetch(session, feed.id, trigger)
    return _commit_and_enqueue(session, queues, feed.id, fetch, created, drop_feed=False)


def _admit(queues: Queues) -> None:
    try:
        full = admit_submission(queues)
    except RedisError as exc:
        raise QueueUnavailable("The job queue is unavailable.") from exc
    if full is not None:
        raise QueueFull(full.reason, full.retry_after)


def _commit_and_enqueue(
    session: Session, queues: Queues, feed_id: int, fetch: Fetch, created: bool, *, drop_feed: bool
) -> Submission:
    session.commit()
    if not created:
        return Submission(feed_id, fetch, created=False)
    try:
        queues.enqueue_fetch(fetch.id, fetch.trigger.value)
    except RedisError as exc:
        session.rollback()
        delete_fetch(session, fetch.id)
        if drop_feed:
            delete_feed_without_fetches(session, feed_id)
        session.commit()
        raise QueueUnavailable("The job queue is unavailable.") from exc
    return Submission(feed_id, fetch, created=True)

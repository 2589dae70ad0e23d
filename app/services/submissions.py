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
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from app.config import Settings
from app.pipeline import literal_host_blocked
from app.queue.backpressure import admit_submission
from app.queue.queues import Queues
from app.storage.feeds import delete_feed_without_fetches, upsert_feed
from app.storage.fetches import create_fetch, delete_fetch, latest_succeeded_fetch
from app.storage.models import Feed, Fetch, FetchTrigger
from app.storage.subscriptions import subscribe, unsubscribe
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
    feed: Feed
    fetch: Fetch
    created: bool  # False: an already pending (or fresh) fetch was returned


@dataclass(frozen=True)
class Subscriber:
    """Who follows the submitted feed, and how (see app.storage.subscriptions.subscribe).

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
    feed, is_new_feed = upsert_feed(session, url)
    subscribed = False
    if subscriber is not None:
        _, subscribed = subscribe(
            session,
            subscriber.user_id,
            feed.id,
            unread_recent=subscriber.unread_recent,
            title=subscriber.title,
            folder_id=subscriber.folder_id,
        )
        fresh = _fresh_fetch(session, feed, subscriber.fresh_for)
        if fresh is not None:
            session.commit()
            return Submission(feed, fresh, created=False)
    try:
        return _queue_fetch(session, queues, feed, FetchTrigger.SUBMITTED, drop_feed=is_new_feed)
    except QueueUnavailable:
        if subscribed and not is_new_feed and subscriber is not None:
            unsubscribe(session, subscriber.user_id, feed.id)
            session.commit()
        raise


def _fresh_fetch(session: Session, feed: Feed, fresh_for: timedelta) -> Fetch | None:
    if feed.last_success_at is None or datetime.now(UTC) - feed.last_success_at >= fresh_for:
        return None
    return latest_succeeded_fetch(session, feed.id)


def request_refresh(
    session: Session, queues: Queues, feed: Feed, trigger: FetchTrigger = FetchTrigger.MANUAL
) -> Submission:
    """Queue a fetch of an existing feed (or return its pending one); QueueFull as above."""
    _admit(queues)
    return _queue_fetch(session, queues, feed, trigger, drop_feed=False)


def _admit(queues: Queues) -> None:
    try:
        full = admit_submission(queues)
    except RedisError as exc:
        raise QueueUnavailable("The job queue is unavailable.") from exc
    if full is not None:
        raise QueueFull(full.reason, full.retry_after)


def _queue_fetch(
    session: Session, queues: Queues, feed: Feed, trigger: FetchTrigger, *, drop_feed: bool
) -> Submission:
    fetch, created = create_fetch(session, feed.id, trigger)
    session.commit()
    if not created:
        return Submission(feed, fetch, created=False)
    try:
        queues.enqueue_fetch(fetch.id, trigger.value)
    except RedisError as exc:
        session.rollback()
        delete_fetch(session, fetch.id)
        if drop_feed:
            delete_feed_without_fetches(session, feed.id)
        session.commit()
        raise QueueUnavailable("The job queue is unavailable.") from exc
    return Submission(feed, fetch, created=True)

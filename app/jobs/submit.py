"""Accepting work: turn a submission or refresh request into a committed fetch and a job.

The order matters. The fetch row is committed before the job is enqueued, so
a worker never looks for a row that is not there yet. If Redis refuses the
job, the rows written for this request are removed again and the caller
answers 503: nothing is left half-written.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from app.queue.queues import Queues
from app.storage.feeds import delete_feed_without_fetches, upsert_feed
from app.storage.fetches import create_fetch, delete_fetch
from app.storage.models import Feed, Fetch, FetchTrigger


class QueueUnavailable(RuntimeError):
    """Redis could not take the job; try again shortly."""


@dataclass(frozen=True)
class Submission:
    feed: Feed
    fetch: Fetch
    created: bool  # False: an already pending fetch was returned


def submit_url(session: Session, queues: Queues, url: str) -> Submission:
    """Store the feed at (normalised) ``url`` and queue its first or next fetch."""
    feed, is_new_feed = upsert_feed(session, url)
    return _queue_fetch(session, queues, feed, FetchTrigger.SUBMITTED, drop_feed=is_new_feed)


def request_refresh(
    session: Session, queues: Queues, feed: Feed, trigger: FetchTrigger = FetchTrigger.MANUAL
) -> Submission:
    """Queue a fetch of an existing feed (or return its pending one)."""
    return _queue_fetch(session, queues, feed, trigger, drop_feed=False)


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

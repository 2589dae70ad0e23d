"""Queueing icon searches: one per feed, held to QUEUE_MAX_JOBS, behind every fetch."""

from __future__ import annotations

import uuid

from rq import Queue

from app.queue.backpressure import room_in
from app.queue.icons import Asked, enqueue_icon_search, icon_job_id, icons_max_jobs
from app.queue.queues import Queues

ICON = "https://site.example/icon.png"


def test_a_feeds_icon_search_is_queued_once(queues: Queues) -> None:
    assert enqueue_icon_search(queues, 7, ICON, max_jobs=10) is Asked.QUEUED
    assert enqueue_icon_search(queues, 7, ICON, max_jobs=10) is Asked.ALREADY
    assert queues.icons.get_job_ids() == [icon_job_id(queues.settings.queue_prefix, 7)]
    job = queues.icons.fetch_job(icon_job_id(queues.settings.queue_prefix, 7))
    assert job is not None and job.args == (7, ICON) and job.result_ttl == 0


def test_a_running_icon_search_is_not_queued_again(queues: Queues) -> None:
    enqueue_icon_search(queues, 7, ICON, max_jobs=10)
    taken = Queue.dequeue_any([queues.icons], None, connection=queues.redis)
    assert taken is not None  # a worker has it now
    assert enqueue_icon_search(queues, 7, ICON, max_jobs=10) is Asked.ALREADY
    assert queues.icons.count == 0


def test_a_full_icons_queue_takes_no_more_searches(queues: Queues) -> None:
    assert enqueue_icon_search(queues, 1, ICON, max_jobs=1) is Asked.QUEUED
    assert enqueue_icon_search(queues, 2, ICON, max_jobs=1) is Asked.FULL
    assert queues.icons.count == 1
    assert not queues.redis.exists(f"rq:job:{icon_job_id(queues.settings.queue_prefix, 2)}")


def test_icon_searches_leave_the_fetch_queues_their_room(queues: Queues) -> None:
    before = room_in(queues, queues.refresh, 10), room_in(queues, queues.submissions, 10)
    for feed_id in range(5):
        enqueue_icon_search(queues, feed_id, ICON, max_jobs=10)
    after = room_in(queues, queues.refresh, 10), room_in(queues, queues.submissions, 10)
    assert before == after == (10, 10)


def test_a_worker_takes_fetches_before_an_earlier_icon_search(queues: Queues) -> None:
    enqueue_icon_search(queues, 7, ICON, max_jobs=10)
    fetch_id = uuid.uuid4()
    queues.enqueue_fetch(fetch_id, "refresh")
    taken = Queue.dequeue_any(queues.in_priority_order, None, connection=queues.redis)
    assert taken is not None and taken[0].id == str(fetch_id)


def test_icon_job_ids_carry_the_queue_prefix() -> None:
    # Apps sharing one Redis have feeds with the same ids.
    assert icon_job_id("a", 1) != icon_job_id("b", 1)


def test_the_icons_queue_holds_a_quarter_of_queue_max_jobs_and_at_least_one() -> None:
    assert icons_max_jobs(3000) == 750
    assert icons_max_jobs(1) == 1

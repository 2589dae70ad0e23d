"""Admission of submissions (app/queue/backpressure.py): queue depth and the global budget."""

from __future__ import annotations

from dataclasses import replace

from redis import Redis

from app.queue.backpressure import FULL_RETRY_AFTER, admit_submission, room_in
from app.queue.politeness import waiting_jobs_key
from app.queue.queues import Queues

MINUTE_START = 1_800_000_000.0 - (1_800_000_000 % 60)  # a whole minute, in epoch seconds


def _with(queues: Queues, **changes: object) -> Queues:
    return Queues(queues.redis, replace(queues.settings, **changes))


def _fill(redis: Redis, queues: Queues, jobs: int) -> None:
    if jobs:
        redis.rpush(queues.submissions.key, *[f"job-{n}" for n in range(jobs)])


def test_a_queue_one_job_short_of_its_limit_admits_a_submission(
    queues: Queues, redis: Redis
) -> None:
    small = _with(queues, queue_max_jobs=3)
    _fill(redis, small, 2)
    assert admit_submission(small) is None


def test_a_queue_at_its_limit_refuses_with_a_retry_after(queues: Queues, redis: Redis) -> None:
    small = _with(queues, queue_max_jobs=3)
    _fill(redis, small, 3)
    full = admit_submission(small)
    assert full is not None and full.retry_after == FULL_RETRY_AFTER
    assert "QUEUE_MAX_JOBS" in full.reason


def _wait_for_hosts(redis: Redis, queues: Queues, jobs: int) -> None:
    """``jobs`` jobs listed as waiting for a slot of their host (app.queue.politeness)."""
    redis.zadd(waiting_jobs_key(queues.settings.queue_prefix), {f"w-{n}": n for n in range(jobs)})


def test_jobs_waiting_for_their_host_count_against_the_queue_limit(
    queues: Queues, redis: Redis
) -> None:
    small = _with(queues, queue_max_jobs=3)
    _fill(redis, small, 1)
    _wait_for_hosts(redis, small, 2)
    full = admit_submission(small)
    assert full is not None and "holds 3 jobs" in full.reason


def test_the_global_budget_admits_exactly_its_submissions_per_minute(
    queues: Queues, redis: Redis
) -> None:
    budget = _with(queues, submit_global_per_minute=3)
    results = [admit_submission(budget, now=MINUTE_START + 10) for _ in range(4)]
    assert results[:3] == [None, None, None]
    over = results[3]
    assert over is not None and "SUBMIT_GLOBAL_PER_MINUTE" in over.reason
    assert over.retry_after == 51  # the minute's remaining 50 s, rounded up past its end


def test_the_global_budget_starts_again_each_minute(queues: Queues, redis: Redis) -> None:
    budget = _with(queues, submit_global_per_minute=1)
    assert admit_submission(budget, now=MINUTE_START + 59) is None
    assert admit_submission(budget, now=MINUTE_START + 59.5) is not None
    assert admit_submission(budget, now=MINUTE_START + 60) is None


def test_a_global_budget_of_zero_is_no_limit(queues: Queues, redis: Redis) -> None:
    unlimited = _with(queues, submit_global_per_minute=0)
    assert all(admit_submission(unlimited, now=MINUTE_START) is None for _ in range(50))


def test_the_budget_counter_expires(queues: Queues, redis: Redis) -> None:
    admit_submission(queues, now=MINUTE_START)
    keys = list(redis.scan_iter(f"{queues.settings.queue_prefix}-submit-budget:*"))
    assert len(keys) == 1 and 0 < redis.ttl(keys[0]) <= 120


def test_room_in_a_queue_counts_down_to_zero_never_below(queues: Queues, redis: Redis) -> None:
    assert room_in(queues, queues.submissions, 2) == 2
    _fill(redis, queues, 3)
    assert room_in(queues, queues.submissions, 2) == 0


def test_room_in_a_queue_counts_jobs_waiting_for_their_host(queues: Queues, redis: Redis) -> None:
    _fill(redis, queues, 1)
    _wait_for_hosts(redis, queues, 2)
    assert room_in(queues, queues.submissions, 5) == 2

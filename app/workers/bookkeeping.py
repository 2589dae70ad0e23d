"""RQ's per-job Redis bookkeeping, in one transaction to start a job and one to end it.

RQ 3 records a job's start in two transactions (the execution, then the job's
own fields) and its success in ten round trips when the job is deleted at once
(``result_ttl=0``): a ``WATCH`` and ``SMEMBERS`` for dependent jobs, a read of
the job's status to find its registry, its executions read twice (clean-up,
list, each hash), the transaction, then the worker's state and heartbeat. A
fetch job keeps nothing in Redis once it is done (its outcome is in Postgres),
has no dependents, callbacks, repeats, group or rate limit, and its registry
while it runs is the started one: the keys to remove are all known, with no
read. What is written is what RQ writes, so RQ's registries, the supervisor's
recovery (the worker's executions) and the reconciler read the same records.

Jobs that use any of those RQ features go through RQ's own handling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rq.executions import Execution, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.results import Result
from rq.utils import now
from rq.worker import WorkerStatus

if TYPE_CHECKING:
    from app.workers.rqworker import FeedWorker


def start_job(worker: FeedWorker, job: Job, *, from_intermediate_queue: bool) -> Execution:
    """Record that ``worker`` runs ``job``: RQ's ``prepare_execution`` and
    ``prepare_job_execution`` in one transaction.

    ``from_intermediate_queue``: the job was moved to its queue's intermediate
    list by the dequeue (a worker of one queue), and leaves it now.
    """
    with worker.connection.pipeline() as pipe:
        ttl = worker.get_heartbeat_ttl(job)
        execution = Execution.create(job, ttl, pipeline=pipe, worker_name=worker.name)
        worker.executions[execution.id] = execution
        worker.set_state(WorkerStatus.BUSY, pipeline=pipe)
        worker.heartbeat(ttl, pipeline=pipe)
        job.heartbeat(now(), ttl, pipeline=pipe)
        job.prepare_for_execution(worker.name, pipeline=pipe)
        pipe.persist(job.key)
        if from_intermediate_queue:
            from rq.queue import Queue

            queue = Queue(job.origin, connection=worker.connection)
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
        pipe.execute()
    return execution


def is_plain(job: Job, default_result_ttl: int) -> bool:
    """Whether ``job`` leaves nothing behind on success: no result kept, and none of
    RQ's features that act after a job (callbacks, webhooks, repeats, groups, rate
    limits). Dependent jobs are not looked for: the app enqueues none."""
    return (
        job.get_result_ttl(default_result_ttl) == 0
        and job._success_callback_name is None
        and not job.webhooks
        and not job.repeats_left
        and not job.group_id
        and not job.has_rate_limit
    )


def finish_job(worker: FeedWorker, job: Job, execution: Execution) -> None:
    """Delete a plain job that succeeded, with every record of its run, and mark the
    worker idle, in one transaction (RQ: ten round trips)."""
    job.ended_at = now()
    job._status = JobStatus.FINISHED
    assert job.started_at is not None
    with worker.connection.pipeline() as pipe:
        worker.increment_successful_job_count(pipeline=pipe)
        worker.increment_total_working_time(job.ended_at - job.started_at, pipe)
        # The execution: its hash, its entries in the started registry and in the
        # worker's index (Execution.delete), and the job's index of executions.
        execution.delete(job=job, pipeline=pipe)
        pipe.delete(
            ExecutionRegistry(job_id=job.id, connection=worker.connection).key,
            job.key,
            job.dependents_key,
            job.dependencies_key,
            Result.get_key(job.id),
        )
        worker.set_state(WorkerStatus.IDLE, pipeline=pipe)
        worker.heartbeat(pipeline=pipe)
        pipe.execute()
    worker.executions.pop(execution.id, None)

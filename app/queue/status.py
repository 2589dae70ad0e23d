"""What RQ says about the app's queues and workers right now, for the status dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app.queue.queues import Queues


@dataclass(frozen=True)
class QueueInfo:
    name: str
    depth: int
    oldest_age: float | None  # seconds the head job has waited


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    current_job: str | None
    last_heartbeat: datetime | None


def queue_infos(queues: Queues, now: datetime) -> list[QueueInfo]:
    """Depth and head-of-line wait of each queue, most urgent first."""
    infos = []
    for queue in queues.in_priority_order:
        oldest = None
        head = queue.get_job_ids(0, 1)
        if head:
            try:
                job = Job.fetch(head[0], connection=queues.redis)
                if job.enqueued_at:
                    oldest = max(0.0, (now - job.enqueued_at).total_seconds())
            except NoSuchJobError:
                pass
        infos.append(QueueInfo(queue.name, queue.count, oldest))
    return infos


def worker_infos(queues: Queues) -> list[WorkerInfo]:
    """The RQ workers listening to the app's queues, busy ones first."""
    ours = {q.name for q in queues.in_priority_order}
    workers = []
    for worker in Worker.all(connection=queues.redis):
        if not ours.intersection(worker.queue_names()):
            continue  # another app sharing the Redis
        workers.append(
            WorkerInfo(
                worker.name,
                str(worker.get_state()),
                worker.get_current_job_id(),
                worker.last_heartbeat,
            )
        )
    # Busy workers first: they are the interesting ones when there are many.
    return sorted(workers, key=lambda w: (w.state != "busy", w.name))

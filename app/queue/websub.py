"""Putting WebSub jobs on the queue: requests to hubs, and pushed bodies to store.

Both go on the submissions queue, ahead of scheduled refreshes: a pushed item is
what a person is waiting for, and a hub waits for our verification.
"""

from __future__ import annotations

from app.queue.queues import QUEUED_JOB_TTL, Queues

HUB_REQUEST_FUNC = "app.jobs.websub.run_hub_request"
DELIVERY_FUNC = "app.jobs.websub.run_delivery"


def _options(queues: Queues) -> dict[str, object]:
    return {
        "timeout": queues.settings.job_timeout,
        "ttl": QUEUED_JOB_TTL,
        "result_ttl": 0,  # outcomes live in Postgres
        "failure_ttl": 7 * 24 * 3600,
    }


def enqueue_hub_requests(queues: Queues, subscription_ids: list[int]) -> None:
    """Send the pending (un)subscription requests of these committed subscriptions."""
    if subscription_ids:
        queues.submissions.enqueue_many(
            [
                queues.submissions.prepare_data(
                    HUB_REQUEST_FUNC,
                    args=(sub_id,),
                    description=f"websub request {sub_id}",
                    **_options(queues),  # type: ignore[arg-type]
                )
                for sub_id in subscription_ids
            ]
        )


def delivery_job_id(delivery_id: int) -> str:
    """The RQ job id of a delivery's job."""
    return f"websub-delivery-{delivery_id}"


def enqueue_deliveries(queues: Queues, delivery_ids: list[int]) -> None:
    """Parse and store these committed deliveries."""
    if delivery_ids:
        queues.submissions.enqueue_many(
            [
                queues.submissions.prepare_data(
                    DELIVERY_FUNC,
                    args=(delivery_id,),
                    job_id=delivery_job_id(delivery_id),
                    description=f"websub delivery {delivery_id}",
                    **_options(queues),  # type: ignore[arg-type]
                )
                for delivery_id in delivery_ids
            ]
        )

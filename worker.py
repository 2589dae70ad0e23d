"""Entry point of the worker dyno: ``python worker.py``.

Runs WORKER_CONCURRENCY RQ worker processes under a supervisor that restarts
them, requeues a dead child's job at once, enqueues due feed refreshes and
reconciles fetches whose job was lost. ``--burst`` runs one worker in this
process until the queues are empty (tests, one-off runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import uuid

from rq.scheduler import RQScheduler

from app import budget as connection_budget
from app.affinity import allowed_cpus, cpu_for, pin_to_cpu
from app.affinity_watch import watch_pinned
from app.config import ConfigError, Settings
from app.context import JobContext, build_context, set_context
from app.jobs import fetch as _fetch_job  # noqa: F401 - preload: children start warm
from app.logs import configure_logging
from app.observability import metrics, multiproc
from app.observability.runtime import start_runtime_metrics
from app.pipeline.isolation import start_parsers
from app.pipeline.parser_process import set_parser_cpus
from app.placement import resolve as resolve_placement
from app.workers.housekeeping import Housekeeper
from app.workers.priority import lower_cpu_priority
from app.workers.recovery import recover_worker_job
from app.workers.rqworker import FeedWorker, rq_log_level
from app.workers.supervisor import Slot, Supervisor
from app.workers.threads import (
    EXIT_INTERRUPTED,
    EXIT_RECYCLED,
    ThreadedWorkers,
    thread_worker_name,
)

log = logging.getLogger("feedqueue.worker")


def run_worker(ctx: JobContext, name: str, *, burst: bool, threads: int = 1) -> None:
    """Run RQ workers on the app's queues in this process: one, or one per thread."""
    set_context(ctx)
    start_parsers(ctx.limits)  # warm before the first job (see app/pipeline/isolation.py)
    metrics.process_started("worker", ctx.settings.runtime_metrics_interval)
    if threads > 1:
        ThreadedWorkers(ctx, name, threads).run()
        return
    worker = FeedWorker(ctx.queues.in_priority_order, connection=ctx.queues.redis, name=name)
    worker.shutdown_grace = ctx.settings.shutdown_grace
    worker.work(burst=burst, logging_level=rq_log_level(ctx.settings.log_level))


def run_scheduler(ctx: JobContext) -> None:
    """Run RQ's scheduler (delayed retries and deferrals) in this process.

    It gets a process of its own, forked from the supervisor, rather than the
    one RQ would fork from a worker: such a fork inherits the worker's Redis
    sockets, and when the worker dies the orphaned copies keep its blocked
    BLPOP calls alive in Redis, which then swallow requeued jobs.
    """
    RQScheduler(
        ctx.queues.in_priority_order,
        connection=ctx.queues.redis,
        interval=1,
        logging_level=rq_log_level(ctx.settings.log_level),
    ).work()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--burst", action="store_true", help="one worker, exit when queues are empty"
    )
    parser.add_argument("--concurrency", type=int, help="override WORKER_CONCURRENCY")
    parser.add_argument("--threads", type=int, help="override WORKER_THREADS")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
        if args.concurrency or args.threads:
            settings = dataclasses.replace(
                settings,
                worker_concurrency=args.concurrency or settings.worker_concurrency,
                worker_threads=args.threads or settings.worker_threads,
            )
        plan = connection_budget.plan(settings)
    except ConfigError as exc:
        # One line that names the setting to change, not a traceback.
        print(f"worker: refusing to start: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    log.info("%s", plan.summary())
    lower_cpu_priority(settings.worker_nice)
    dyno = settings.dyno_name("worker")
    run_id = uuid.uuid4().hex[:6]

    if args.burst:
        run_worker(build_context(settings), f"{dyno}.burst.{run_id}", burst=True)
        return 0

    # PIN_CPUS=auto reads once, here, whether the cores are the dyno's own (app/placement.py).
    cpus = allowed_cpus()
    placement = resolve_placement(settings.pin_cpus, cpus)
    log.info("%s", placement.summary("worker"))

    # The supervisor's own work (scheduler, reconciler) runs one query at a time.
    parent = build_context(
        settings,
        redis_pool=connection_budget.SUPERVISOR_REDIS,
        db_pool=connection_budget.SUPERVISOR_DB,
    )
    threads = settings.worker_threads
    workers = settings.worker_concurrency
    scheduler_slot = workers  # the last slot runs RQ's scheduler

    def child_main(index: int, name: str) -> None:
        # The parent's pooled sockets must not be shared with the child.
        parent.db.dispose(after_fork=True)
        if placement.pin and index != scheduler_slot:
            # Before any thread: they inherit it. The watch leaves a core others take.
            watch_pinned(pin_to_cpu(cpu_for(index, cpus)), cpus)
            # Its parser processes share no GIL with its threads: they may use every core.
            set_parser_cpus(cpus)
        if index == scheduler_slot:
            run_scheduler(
                build_context(
                    settings, redis_pool=connection_budget.SCHEDULER_REDIS, db_pool=1
                )
            )
        else:
            run_worker(build_context(settings), name, burst=False, threads=threads)

    def on_child_death(slot: Slot, code: int) -> None:
        multiproc.process_dead(slot.pid or 0)  # its live gauges go with it
        if code in (0, EXIT_RECYCLED) or not slot.name or slot.index == scheduler_slot:
            return  # nothing in hand: it finished its jobs before it left
        # Its jobs died with it, unless it was stopping (the grace period ran out,
        # or the supervisor killed it at the end of its own stop).
        crashed = code != EXIT_INTERRUPTED and not supervisor.stopping
        names = (
            [slot.name]
            if threads == 1
            else [thread_worker_name(slot.name, i) for i in range(threads)]
        )
        for name in names:
            recover_worker_job(parent, name, crashed=crashed)

    supervisor = Supervisor(
        workers + 1,
        child_main,
        name_for=lambda index: f"{dyno}.{run_id}.{index}.{uuid.uuid4().hex[:4]}",
        on_child_death=on_child_death,
        housekeeping=Housekeeper(parent),
        stop_timeout=settings.shutdown_grace + 5,
        planned_exits=frozenset({EXIT_RECYCLED}),
    )
    log.info(
        "worker dyno %s: %d processes x %d threads, plus RQ's scheduler", dyno, workers, threads
    )
    start_runtime_metrics("worker", os.getpid(), settings)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())

"""gunicorn settings for the web dyno (Heroku's python-getting-started layout).

Heroku sets PORT and, per dyno size, WEB_CONCURRENCY; like every setting they
are read through app/config.py. Requests never wait on a feed server, so plain
sync workers with a few threads are enough.
"""

import os
import sys

from app.affinity import allowed_cpus, least_used_cpu, pin_to_cpu
from app.affinity_watch import watch_pinned
from app.budget import plan_from_env
from app.config import ConfigError, read_setting

# Sets PROMETHEUS_MULTIPROC_DIR in the master (a fresh per-dyno folder when
# unset) before any worker forks, so every worker writes metrics to one place.
from app.observability import multiproc
from app.placement import resolve as resolve_placement
from app.web.worker_loads import WorkerLoads

# Single settings, not Settings.from_env(): the master needs no database or Redis URL.
try:
    # The connection budget of the whole formation (app/budget.py): a configuration
    # that cannot fit the plans stops here, with one line naming the setting.
    _budget = plan_from_env()
except ConfigError as _exc:
    print(f"web: refusing to start: {_exc}", file=sys.stderr)
    sys.exit(2)
bind = [f"[::]:{read_setting('port')}"]
workers = read_setting("web_concurrency")
threads = read_setting("gunicorn_threads")
# gunicorn's gthread worker, except that a new connection waits for its request
# in the poller instead of holding a thread (see the module).
worker_class = "app.web.gunicorn_worker.ThreadWorker"
# Heroku's router gives up after 30 s; no request of ours should come close.
timeout = 20
# Heroku sends SIGTERM and kills 30 s later: finish in-flight requests first.
graceful_timeout = 20
keepalive = 5
# Heroku's router is the only client and sets X-Forwarded-*; trust it.
forwarded_allow_ips = "*"
# The app logs one logfmt line per request (with route and request id);
# gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
# No preload: each worker builds its own app, engine and Redis pool after fork.
preload_app = False
# Each worker keeps its threads on one CPU where the cores are the dyno's own:
# PIN_CPUS=auto (the default) reads that from the OS once, here in the master
# (app/placement.py); true and false decide without looking.
_cpus = allowed_cpus()
_placement = resolve_placement(read_setting("pin_cpus"), _cpus)
# Each worker's open connections, for the workers to share new ones evenly
# (app/web/worker_loads.py); mapped here, before any worker forks.
_loads = WorkerLoads(workers)


def when_ready(server: object) -> None:
    """Master is up: log the connection budget and the dyno's runtime metrics."""
    from app.observability.runtime import start_runtime_metrics

    server.log.info("%s", _budget.summary())  # type: ignore[attr-defined]
    server.log.info("%s", _placement.summary("web"))  # type: ignore[attr-defined]

    start_runtime_metrics("web", os.getpid())


def child_exit(server: object, worker: object) -> None:
    """A worker died: drop its live Prometheus gauges (alive, busy, memory), and its
    connection count, so that no worker leaves connections to it."""
    multiproc.process_dead(worker.pid)  # type: ignore[attr-defined]
    _loads.vacate(getattr(worker, "load_slot", None))


def pre_fork(server: object, worker: object) -> None:
    """Give the worker about to start a slot for its connection count and, when
    pinning, choose its CPU (in the master).

    The least used CPU: a worker replacing one that died takes the CPU it freed. Its
    count reads as vacant until its loop first runs: a worker still booting takes no
    connection, so none is left to it.
    """
    worker.loads = _loads  # type: ignore[attr-defined]
    worker.load_slot = _loads.free_slot(  # type: ignore[attr-defined]
        getattr(w, "load_slot", None) for w in server.WORKERS.values()  # type: ignore[attr-defined]
    )
    if _placement.pin:
        taken = (getattr(w, "cpu", None) for w in server.WORKERS.values())  # type: ignore[attr-defined]
        worker.cpu = least_used_cpu(taken, _cpus)  # type: ignore[attr-defined]


def post_fork(server: object, worker: object) -> None:
    """In the new worker, before its threads start (they inherit its CPU).

    A pinned worker watches its core and leaves it if others saturate it while
    another core idles (app/affinity_watch.py).
    """
    watch_pinned(pin_to_cpu(getattr(worker, "cpu", None)), _cpus)


def post_worker_init(worker: object) -> None:
    """The app is loaded and nothing accepted yet: run the submission path once, keeping
    nothing (app/web/warmup.py), so that the first client does not pay for it."""
    from flask import Flask

    from app.web.warmup import warm_up

    app = worker.wsgi  # type: ignore[attr-defined]
    if isinstance(app, Flask):
        seconds = warm_up(app)
        worker.log.info("warmed up in %.0f ms", seconds * 1000)  # type: ignore[attr-defined]

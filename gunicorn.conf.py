"""gunicorn settings for the web dyno (Heroku's python-getting-started layout).

Heroku sets PORT and, per dyno size, WEB_CONCURRENCY. Requests never wait on
a feed server, so plain sync workers with a few threads are enough.
"""

import os

# Sets PROMETHEUS_MULTIPROC_DIR in the master (a fresh per-dyno folder when
# unset) before any worker forks, so every worker writes metrics to one place.
from app.observability import multiproc

bind = [f"[::]:{os.environ.get('PORT', '5000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
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


def when_ready(server: object) -> None:
    """Master is up: log the dyno's runtime metrics (sum over master + workers)."""
    from app.observability.runtime import start_runtime_metrics

    start_runtime_metrics("web", os.getpid())


def child_exit(server: object, worker: object) -> None:
    """A worker died: drop its live Prometheus gauges (alive, busy, memory)."""
    multiproc.process_dead(worker.pid)  # type: ignore[attr-defined]

"""gunicorn settings for the web dyno (Heroku's python-getting-started layout).

Heroku sets PORT and, per dyno size, WEB_CONCURRENCY. Requests never wait on
a feed server, so plain sync workers with a few threads are enough.
"""

import os

bind = [f"[::]:{os.environ.get('PORT', '5000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# Heroku's router gives up after 30 s; no request of ours should come close.
timeout = 20
# Heroku sends SIGTERM and kills 30 s later: finish in-flight requests first.
graceful_timeout = 20
keepalive = 5
# Heroku's router is the only client and sets X-Forwarded-*; trust it.
forwarded_allow_ips = "*"
accesslog = "-"
access_log_format = (
    'method=%(m)s path="%(U)s" status=%(s)s duration_ms=%(M)s request_id=%({x-request-id}i)s'
)
errorlog = "-"
# No preload: each worker builds its own app, engine and Redis pool after fork.
preload_app = False

"""A gunicorn worker runs the submission path once before it takes traffic, keeping nothing.

A fresh worker's first ``POST /feeds`` took 74-85 ms against 6 ms for the next
ones (bench/findings.md): its pooled Postgres and Redis connections were opened
then, SQLAlchemy compiled each statement of the path for the first time, the
rate limiter's script was loaded into Redis, and the modules the path imports
lazily were imported. gunicorn's ``post_worker_init`` hook calls :func:`warm_up`
after the worker has loaded the app and before it accepts a connection, so
the first client does not pay for it (``python -m bench.first_request``). The
pages' templates are compiled too: Jinja compiles each at its first render, which
made a fresh worker's first page (a template and its base) several times slower
than the next (``python -m bench.first_request --page /signin``).

Nothing is kept: the token lookup reads, the submission's statement (feed and
fetch, app.storage.submissions) runs in a transaction that is rolled back (each
warm-up uses up one value of the feeds' id sequence, which rollbacks do not
return), and Redis is only pinged and given the limiter's script. No request is
logged or counted in the metrics, since no request goes through the WSGI stack.
"""

from __future__ import annotations

import logging
import secrets
import time

from flask import Flask

log = logging.getLogger(__name__)

#: A host that cannot exist (RFC 2606), for the feed upserted and rolled back; each
#: warm-up adds its own path, so that two workers warming up at once never wait on
#: each other's uncommitted row.
WARM_UP_URL = "https://warm-up.invalid/"


def warm_up(app: Flask) -> float:
    """Open this process's connections and run the submission's statements; seconds taken.

    A failure (Postgres or Redis not reachable yet) is logged and left to the
    first request, as without the warm-up.
    """
    started = time.perf_counter()
    try:
        _run(app)
    except Exception:  # noqa: BLE001 - a cold worker still serves; the first request pays
        log.warning("warm-up failed; the first request will open the connections", exc_info=True)
    return time.perf_counter() - started


def _run(app: Flask) -> None:
    from app.extensions import limiter
    from app.services import accounts
    from app.storage.submissions import store_submission
    from app.web.helpers import db_session, fetch_status, queues

    with app.test_request_context("/feeds", method="POST", headers={"Accept": "application/json"}):
        session = db_session()
        # Reads only: a token no one holds (the lookup every API request makes).
        accounts.user_id_for_token(session, "warm-up-" + secrets.token_hex(16))
        try:
            url = WARM_UP_URL + secrets.token_hex(8) + ".xml"
            stored = store_submission(session, url, user_id=None, fresh_for=None)
            assert stored.fetch is not None  # a new feed: its first fetch
            fetch_status(stored.fetch, just_enqueued=True)  # the 202's body; the queue position
        finally:
            session.rollback()
        queues().redis.ping()
        storage = limiter.limiter.storage
        load = getattr(storage, "load_scripts", None)
        if load is not None:
            load()
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)  # compiled and kept in the environment's cache

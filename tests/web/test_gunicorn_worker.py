"""The web's gunicorn worker class, in this process (its traffic: tests/deploy/test_gunicorn.py)."""

from __future__ import annotations

import logging
import os
import time

from gunicorn.config import Config

from app.web.gunicorn_worker import HEARTBEAT_EVERY, ThreadWorker


def test_the_heartbeat_touches_the_workers_file_once_however_often_the_loop_wakes() -> None:
    worker = ThreadWorker(0, os.getpid(), [], None, 20, Config(), logging.getLogger(__name__))
    try:
        worker.notify()
        first = worker.tmp.last_update()
        for _ in range(1000):  # a busy loop's wake-ups within one heartbeat
            worker.notify()
        assert worker.tmp.last_update() == first
        time.sleep(HEARTBEAT_EVERY)
        worker.notify()
        assert worker.tmp.last_update() > first
    finally:
        worker.tmp.close()

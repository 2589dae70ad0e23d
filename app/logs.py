"""Logging set-up shared by the web and worker processes: one line per event, to stdout."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    """Send logs to stdout (Heroku's log router reads it) in a logfmt-friendly shape."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter('at=%(levelname)s pid=%(process)d logger=%(name)s msg="%(message)s"')
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

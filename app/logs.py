"""Logging shared by the web and worker processes: one logfmt line per event, to stdout.

Heroku's log router reads stdout, and log add-ons (and ``heroku logs``
filters) understand logfmt: ``at=info method=GET path=/x status=200``.
Structured fields come from ``extra=``::

    log.info("fetch finished", extra={"fetch_id": fid, "feed_id": 3, "duration_ms": 12.5})

gives ``at=info fetch_id=... feed_id=3 duration_ms=12.5 msg="fetch finished" logger=... pid=...``.
:func:`event` logs fields alone, without a message. Values with spaces,
quotes, ``=`` or control characters are quoted; ``None`` values are left out.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping

# Attributes every LogRecord has; anything else on a record came from extra=.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_BARE = re.compile(r"[^\s=\"\\\x00-\x1f\x7f]+")
# Heroku's own lines say at=info / at=warn / at=error.
_LEVELS = {"WARNING": "warn", "CRITICAL": "error"}


def logfmt_value(value: object) -> str:
    """Render one value: bare when safe, else double-quoted with escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "NaN"
    else:
        text = str(value)
    if _BARE.fullmatch(text):
        return text
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def logfmt(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs in order, skipping ``None`` values."""
    return " ".join(f"{key}={logfmt_value(v)}" for key, v in fields.items() if v is not None)


class LogfmtFormatter(logging.Formatter):
    """``at=<level> <extra fields> msg="..." logger=<name> pid=<pid>``, plus any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {"at": _LEVELS.get(record.levelname, record.levelname.lower())}
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                fields[key] = value
        message = record.getMessage()
        if message:
            fields["msg"] = message
        fields["logger"] = record.name
        fields["pid"] = record.process
        line = logfmt(fields)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def event(logger: logging.Logger, level: int = logging.INFO, /, **fields: object) -> None:
    """Log one line made only of fields (no message), e.g. the per-request line."""
    if logger.isEnabledFor(level):
        logger.log(level, "", extra=fields)


def configure_logging(level: str = "INFO") -> None:
    """Send logs to stdout (Heroku's log router reads it) as logfmt lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

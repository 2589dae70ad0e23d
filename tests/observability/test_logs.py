"""Log lines: logfmt quoting, the per-request line and the per-job line."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from app.logs import LogfmtFormatter, logfmt, logfmt_value
from tests.feedserver import FeedServer
from tests.observability.conftest import TOKEN


def _record(msg: str = "", level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "t", "levelno": level, "msg": msg, "process": 7})
    record.levelname = logging.getLevelName(level)
    record.__dict__.update(extra)
    return record


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = LogfmtFormatter()
    return [formatter.format(r) for r in caplog.records if r.name == "feedqueue.request"]


def test_plain_values_stay_bare_and_odd_ones_are_quoted() -> None:
    assert logfmt_value("abc-1.2") == "abc-1.2"
    assert logfmt_value("two words") == '"two words"'
    assert logfmt_value('say "hi"') == '"say \\"hi\\""'
    assert logfmt_value("a=b") == '"a=b"'
    assert logfmt_value("line\nbreak") == '"line\\nbreak"'
    assert logfmt_value("") == '""'
    assert logfmt_value(True) == "true"
    assert logfmt_value(3.10) == "3.1"


def test_none_values_are_left_out() -> None:
    assert logfmt({"a": 1, "b": None, "c": "x"}) == "a=1 c=x"


def test_extra_fields_come_before_the_message() -> None:
    line = LogfmtFormatter().format(_record("fetch finished", fetch_id="f1", feed_id=3))
    assert line == 'at=info fetch_id=f1 feed_id=3 msg="fetch finished" logger=t pid=7'


def test_warnings_say_at_warn() -> None:
    assert LogfmtFormatter().format(_record("hot", logging.WARNING)).startswith("at=warn ")


def test_request_line_has_route_status_duration_and_the_routers_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedqueue.request")
    response = client.get("/api/feeds/12345?secret=hidden", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    (line,) = _request_lines(caplog)
    assert re.fullmatch(
        r"at=info method=GET path=/api/feeds/12345 route=/api/feeds/<int:feed_id> status=404"
        r" duration_ms=\d+(\.\d)? request_id=abc-123 logger=feedqueue.request pid=\d+",
        line,
    ), line
    assert "secret" not in line


def test_a_request_without_an_id_gets_one_in_the_response_and_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedqueue.request")
    response = client.get("/healthz")
    generated = response.headers["X-Request-ID"]
    assert uuid.UUID(generated)
    (line,) = _request_lines(caplog)
    assert f"request_id={generated}" in line


def test_a_malformed_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert uuid.UUID(response.headers["X-Request-ID"])


def test_metrics_token_never_reaches_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert TOKEN not in caplog.text


def test_job_line_has_fetch_id_feed_id_outcome_and_duration(
    client: FlaskClient,
    feed_server: FeedServer,
    run_worker_burst: Callable,
    worker_extra_env: dict[str, str],
) -> None:
    url = feed_server.add_fixture("/rss.xml", "example-rss20.xml")
    submitted = client.post("/feeds", json={"url": url}).get_json()
    fetch_id, feed_id = submitted["fetch"]["id"], submitted["fetch"]["feed_id"]
    output = run_worker_burst(**worker_extra_env).stdout
    lines = [line for line in output.splitlines() if f"fetch_id={fetch_id}" in line]
    assert len(lines) == 1, output
    assert re.match(
        rf"at=info fetch_id={fetch_id} feed_id={feed_id} outcome=succeeded http_status=200"
        r" not_modified=false items_new=3 items_updated=0 bytes=\d+ duration_ms=\d+(\.\d)?"
        r' msg="fetch finished" logger=app.jobs.fetch pid=\d+$',
        lines[0],
    ), lines[0]
    assert "<rss" not in output and url not in lines[0]

"""The auth-cost bench signs its requests each way (token, cookie, Basic) and all get in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app.config import Settings
from app.storage.db import Database
from bench.accounts import create_account
from bench.auth_cost import METHODS, measure, session_cookie
from bench.data import fetch_paths
from bench.stack import Services
from tests.dynos import WebDyno
from tests.feedserver import FeedServer


@pytest.mark.parametrize("method", METHODS)
def test_each_way_of_signing_reads_fetches_without_errors(
    method: str,
    settings: Settings,
    db: Database,
    feed_server: FeedServer,
    start_web: Callable[..., WebDyno],
    tmp_path: Path,
) -> None:
    account = create_account(settings.database_url or "")
    services = Services(settings.database_url or "", settings.redis_url or "", account=account)
    web = start_web()
    submitted = requests.post(
        f"{web.base_url}/feeds",
        json={"url": feed_server.url("/feed/1.xml")},
        headers=account.headers(),
        timeout=10,
    )
    assert submitted.status_code == 202, submitted.text
    paths = tmp_path / "paths.txt"
    paths.write_text("\n".join(fetch_paths(services, 10)) + "\n")

    row = measure(
        services,
        web.children,
        web.base_url,
        str(paths),
        method,
        session_cookie(web.base_url),
        connections=2,
        # HTTP Basic checks a password (argon2) per request: on slow or busy cores a
        # 3 s window can end before the first answer, which wrk does not count.
        seconds=10 if method == "basic" else 3,
    )

    assert row["requests"] > 0
    assert row["errors"] == 0
    assert account.token not in row["command"]

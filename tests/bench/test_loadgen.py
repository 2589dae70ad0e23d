"""The wrk scripts of the web scenarios submit and poll as the bench user."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from app.config import Settings
from app.storage.db import Database
from app.storage.models import Feed, Subscription
from bench.accounts import create_account
from bench.data import fetch_paths
from bench.loadgen import run_wrk
from bench.stack import Services
from tests.conftest import wait_for
from tests.dynos import WebDyno
from tests.feedserver import FeedServer


def test_post_feeds_script_submits_with_the_bench_token_and_get_paths_polls(
    settings: Settings,
    db: Database,
    feed_server: FeedServer,
    start_web: Callable[..., WebDyno],
    tmp_path: object,
) -> None:
    account = create_account(settings.database_url or "")
    services = Services(settings.database_url or "", settings.redis_url or "", account=account)
    web = start_web()

    posted = run_wrk(
        f"{web.base_url}/feeds",
        "post_feeds.lua",
        connections=2,
        duration=1,
        env={"BENCH_FEED_BASE": feed_server.url("/feed/"), "BENCH_TOKEN": account.token},
    )

    assert posted.requests > 0
    assert posted.errors == 0, posted.errors_by_kind
    assert account.token not in posted.command

    def counts() -> tuple[int, int]:
        with db.session() as session:
            feeds = session.scalar(select(func.count()).select_from(Feed)) or 0
            followed = session.scalar(
                select(func.count())
                .select_from(Subscription)
                .where(Subscription.user_id == account.user_id)
            )
        return feeds, followed or 0

    # wrk counts the answers it read: requests in flight when it stopped still land,
    # and every feed they create ends up followed by the bench's account.
    wait_for(lambda: counts()[0] == counts()[1], timeout=15, interval=0.2)
    assert counts()[1] >= posted.requests

    paths = tmp_path / "paths.txt"  # type: ignore[operator]
    paths.write_text("\n".join(fetch_paths(services, 50)) + "\n")
    polled = run_wrk(
        f"{web.base_url}/",
        "get_paths.lua",
        connections=2,
        duration=1,
        env={"BENCH_PATHS_FILE": str(paths), "BENCH_TOKEN": account.token},
    )

    assert polled.requests > 0
    assert polled.errors == 0, polled.errors_by_kind


def test_post_feeds_script_without_a_token_counts_every_answer_as_an_error(
    settings: Settings,
    db: Database,
    feed_server: FeedServer,
    start_web: Callable[..., WebDyno],
) -> None:
    web = start_web()

    posted = run_wrk(
        f"{web.base_url}/feeds",
        "post_feeds.lua",
        connections=2,
        duration=1,
        env={"BENCH_FEED_BASE": feed_server.url("/feed/")},
    )

    assert posted.requests > 0
    assert posted.errors_by_kind["status"] == posted.requests
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feed)) == 0

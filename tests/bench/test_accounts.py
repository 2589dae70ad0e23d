"""The bench account: its API token makes load-generator requests the bench user's."""

from __future__ import annotations

from collections.abc import Callable

import requests
from sqlalchemy import select

from app.config import Settings
from app.storage.db import Database
from app.storage.models import Feed, Subscription, User
from bench.accounts import create_account
from tests.dynos import WebDyno
from tests.feedserver import FeedServer


def test_the_bench_token_submits_a_feed_the_bench_user_then_follows(
    settings: Settings,
    db: Database,
    feed_server: FeedServer,
    start_web: Callable[..., WebDyno],
) -> None:
    account = create_account(settings.database_url or "")
    web = start_web()

    answer = requests.post(
        f"{web.base_url}/feeds",
        json={"url": feed_server.url("/feed/1.xml")},
        headers=account.headers(),
        timeout=10,
    )

    assert answer.status_code == 202, answer.text
    status = requests.get(
        web.base_url + answer.json()["status_url"], headers=account.headers(), timeout=10
    )
    assert status.status_code == 200
    with db.session() as session:
        followed = session.scalars(
            select(Feed.url)
            .join(Subscription, Subscription.feed_id == Feed.id)
            .where(Subscription.user_id == account.user_id)
        ).all()
        bench_user = session.get(User, account.user_id)
    assert followed == [feed_server.url("/feed/1.xml")]
    assert bench_user is not None and not bench_user.is_admin


def test_without_the_bench_token_a_submission_is_refused(
    settings: Settings,
    db: Database,
    feed_server: FeedServer,
    start_web: Callable[..., WebDyno],
) -> None:
    create_account(settings.database_url or "")
    web = start_web()

    answer = requests.post(
        f"{web.base_url}/feeds", json={"url": feed_server.url("/feed/1.xml")}, timeout=10
    )

    assert answer.status_code == 401

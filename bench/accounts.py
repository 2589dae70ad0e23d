"""The bench's account: every page and API of the app needs someone signed in.

The bench user is created with the app's own functions (app.services.accounts), as
sign-up would, and given an API token: load generators send it as
``Authorization: Bearer <token>``, so each request pays the token's lookup (a SHA-256
and an ``UPDATE ... RETURNING`` of its last use), as any API client does. Feeds the
bench seeds with SQL get subscriptions of this user: the scheduler refreshes only
feeds someone follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BENCH_USER = "bench"
#: Long enough for PASSWORD_MIN_LENGTH; the bench signs in with the token, not this.
BENCH_PASSWORD = "bench-password-not-for-production"


@dataclass(frozen=True)
class BenchAccount:
    """The bench user's id and the secret of its API token."""

    user_id: int
    token: str

    def headers(self) -> dict[str, str]:
        """The request headers that make a request the bench user's."""
        return {"Authorization": f"Bearer {self.token}"}


def create_account(database_url: str) -> BenchAccount:
    """Create the bench user (an ordinary account, not an admin) and an API token."""
    from app.config import normalize_database_url
    from app.services.accounts import create_token, hash_password
    from app.storage.db import Database
    from app.storage.users import create_user

    db = Database(normalize_database_url(database_url), pool_size=1)
    try:
        with db.session() as session:
            user = create_user(session, BENCH_USER, hash_password(BENCH_PASSWORD), is_admin=False)
            new = create_token(session, user, "bench load generators")
            return BenchAccount(user.id, new.secret)
    finally:
        db.dispose()


#: Subscribes the bench user to every feed it does not follow yet, in one statement.
SUBSCRIBE_ALL = """
    INSERT INTO subscriptions (user_id, feed_id)
    SELECT %(user_id)s, f.id FROM feeds f
    WHERE NOT EXISTS (
        SELECT 1 FROM subscriptions s WHERE s.user_id = %(user_id)s AND s.feed_id = f.id
    )
"""


def subscribe_all(cur: Any, user_id: int) -> int:
    """Subscribe ``user_id`` to every feed (a psycopg2 cursor); how many were added.

    The feeds were seeded with SQL and have no items yet, so the subscriptions' read
    watermark (``read_upto_id``) keeps its default, 0, as app.storage.subscriptions
    would set it.
    """
    cur.execute(SUBSCRIBE_ALL, {"user_id": user_id})
    return int(cur.rowcount)

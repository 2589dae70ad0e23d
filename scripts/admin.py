"""Create the admin account, or reset its password, from ADMIN_USER and ADMIN_PASSWORD.

Run after migrations: by Heroku's release phase (Procfile) and by ``make run``
(scripts/devservices.py). Without both variables it changes nothing. A refused
name or password fails with one line, which stops a Heroku release.

    python -m scripts.admin
"""

from __future__ import annotations

import sys

from app.config import ConfigError, read_setting
from app.services.accounts import AccountError, ensure_admin
from app.storage.db import Database


def main() -> int:
    """Ensure the admin account; the process's exit status."""
    try:
        username = read_setting("admin_user")
        password = read_setting("admin_password")
        database_url = read_setting("database_url")
        min_length = read_setting("password_min_length")
    except ConfigError as exc:
        print(f"admin: {exc}", file=sys.stderr)
        return 1
    if not username or not password:
        print("admin: ADMIN_USER and ADMIN_PASSWORD are not both set; no account changed")
        return 0
    if not database_url:
        print("admin: DATABASE_URL is not set", file=sys.stderr)
        return 1
    db = Database(str(database_url), pool_size=1)
    try:
        with db.session() as session:
            user = ensure_admin(session, str(username), str(password), min_length=int(min_length))
    except AccountError as exc:
        print(f"admin: ADMIN_USER/ADMIN_PASSWORD refused: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"admin: {user.username} is an admin, with the password ADMIN_PASSWORD holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""feeds: fill factor 80, room in each page for HOT updates by refreshes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00

A refresh that keeps its feed's interval changes no indexed column of the feed row
(app.storage.outcomes); with room left in the page, Postgres writes that update in
place (HOT) instead of adding an entry to every index of feeds. The setting applies
to pages written from now on; ``VACUUM FULL feeds`` (or pg_repack) rewrites the old
ones, which is not done here: it would lock the table for the length of a rewrite.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE feeds SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE feeds RESET (fillfactor)")

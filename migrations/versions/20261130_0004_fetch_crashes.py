"""fetches.crashes: how many times a fetch's worker process died under it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "fetches",
        sa.Column("crashes", sa.SmallInteger(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("fetches", "crashes")

"""enclosures and feed icons: items.enclosures (JSONB) and the feed_icons table

``items.enclosures`` is nullable without a default: adding it rewrites nothing, and
items written before stay without enclosures until their feed changes them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("enclosures", postgresql.JSONB(), nullable=True))
    op.create_table(
        "feed_icons",
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("declared_url", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=32), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_feed_icons_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feed_id", name=op.f("pk_feed_icons")),
    )


def downgrade() -> None:
    op.drop_table("feed_icons")
    op.drop_column("items", "enclosures")

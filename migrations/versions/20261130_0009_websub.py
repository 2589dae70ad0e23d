"""websub: hubs on feeds, our subscriptions at hubs, and pushed bodies waiting for a worker

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites no row of a large feeds table.
    op.add_column("feeds", sa.Column("hub_url", sa.Text(), nullable=True))
    op.add_column("feeds", sa.Column("topic_url", sa.Text(), nullable=True))
    # Housekeeping's search for feeds that name a hub reads this, not the whole table.
    op.create_index(
        "ix_feeds_hub", "feeds", ["id"], postgresql_where=sa.text("hub_url IS NOT NULL")
    )
    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("hub_url", sa.Text(), nullable=False),
        sa.Column("topic_url", sa.Text(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending", sa.String(length=16), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delivery_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deliveries", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_websub_subscriptions_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_subscriptions")),
        sa.UniqueConstraint("feed_id", name=op.f("uq_websub_subscriptions_feed_id")),
        sa.UniqueConstraint("token", name=op.f("uq_websub_subscriptions_token")),
    )
    op.create_index("ix_websub_subscriptions_expires", "websub_subscriptions", ["expires_at"])
    op.create_table(
        "websub_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["websub_subscriptions.id"],
            name=op.f("fk_websub_deliveries_subscription_id_websub_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_deliveries")),
    )
    op.create_index(
        op.f("ix_websub_deliveries_subscription_id"), "websub_deliveries", ["subscription_id"]
    )


def downgrade() -> None:
    op.drop_table("websub_deliveries")
    op.drop_table("websub_subscriptions")
    op.drop_index("ix_feeds_hub", table_name="feeds")
    op.drop_column("feeds", "topic_url")
    op.drop_column("feeds", "hub_url")

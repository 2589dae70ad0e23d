"""users, api_tokens, folders, subscriptions, item_states; items.search_vector

The reader: people and what is theirs. Feeds and items stay shared. Existing
OPML imports are dropped (they are shown for a day and now belong to a person),
and existing feeds stop being refreshed until someone subscribes to them.
Adding the generated search column rewrites the items table once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As app.storage.models.SEARCH_VECTOR_SQL at this revision (a migration never imports the app).
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, "
    "left(coalesce(content_html, summary_html, ''), 100000)), 'B')"
)


def _now() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _now(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(
        "uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _now(),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "folders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["folders.id"], name=op.f("fk_folders_parent_id_folders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_folders_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folders")),
    )
    op.create_index(
        "uq_folders_user_parent_name",
        "folders",
        ["user_id", sa.text("coalesce(parent_id, 0)"), "name"],
        unique=True,
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("folder_id", sa.BigInteger(), nullable=True),
        sa.Column("read_upto_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("read_before", sa.DateTime(timezone=True), nullable=True),
        _now(),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_subscriptions_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["folders.id"], name=op.f("fk_subscriptions_folder_id_folders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("user_id", "feed_id", name="uq_subscriptions_user_feed"),
    )
    op.create_index(op.f("ix_subscriptions_feed_id"), "subscriptions", ["feed_id"])
    op.create_index(op.f("ix_subscriptions_folder_id"), "subscriptions", ["folder_id"])
    op.create_table(
        "item_states",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=True),
        sa.Column("starred", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("starred_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_states_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_item_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "item_id", name=op.f("pk_item_states")),
    )
    op.create_index("ix_item_states_user_feed", "item_states", ["user_id", "feed_id"])
    op.create_index(
        "ix_item_states_starred", "item_states", ["item_id"], postgresql_where=sa.text("starred")
    )
    op.create_index(
        "ix_item_states_user_starred",
        "item_states",
        ["user_id", sa.text("starred_at DESC")],
        postgresql_where=sa.text("starred"),
    )
    op.add_column(
        "items",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_VECTOR_SQL, persisted=True),
            nullable=True,
        ),
    )
    op.create_index("ix_items_search", "items", ["search_vector"], postgresql_using="gin")
    op.create_index("ix_items_feed_id", "items", ["feed_id", "id"])
    # Feeds are now refreshed only while someone follows them: nobody does yet. A
    # feed someone subscribes to is fetched then and scheduled again from there.
    op.execute("UPDATE feeds SET next_fetch_at = NULL")
    op.execute("DELETE FROM opml_imports")
    op.add_column("opml_imports", sa.Column("user_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_opml_imports_user_id_users"), "opml_imports", "users", ["user_id"], ["id"],
        ondelete="CASCADE",
    )
    op.create_index(op.f("ix_opml_imports_user_id"), "opml_imports", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_opml_imports_user_id"), table_name="opml_imports")
    op.drop_constraint(op.f("fk_opml_imports_user_id_users"), "opml_imports", type_="foreignkey")
    op.drop_column("opml_imports", "user_id")
    op.drop_index("ix_items_feed_id", table_name="items")
    op.drop_index("ix_items_search", table_name="items")
    op.drop_column("items", "search_vector")
    op.drop_table("item_states")
    op.drop_table("subscriptions")
    op.drop_table("folders")
    op.drop_table("api_tokens")
    op.drop_table("users")

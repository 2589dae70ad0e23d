"""opml_imports, opml_import_entries: OPML imports kept in Postgres, not Redis

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opml_imports",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opml_imports")),
    )
    op.create_index(
        op.f("ix_opml_imports_created_at"), "opml_imports", ["created_at"], unique=False
    )
    op.create_table(
        "opml_import_entries",
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("feed_id", sa.BigInteger(), nullable=True),
        sa.Column("fetch_id", sa.UUID(), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["opml_imports.id"],
            name=op.f("fk_opml_import_entries_import_id_opml_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "position", name=op.f("pk_opml_import_entries")),
    )


def downgrade() -> None:
    op.drop_table("opml_import_entries")
    op.drop_index(op.f("ix_opml_imports_created_at"), table_name="opml_imports")
    op.drop_table("opml_imports")

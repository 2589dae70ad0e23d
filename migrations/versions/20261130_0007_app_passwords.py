"""app_passwords: passwords for reader apps (Fever, Google Reader clients)

Only SHA-256 digests of the app password and of its Fever key are stored
(docs/security.md, "App passwords").

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_passwords",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.String(length=64), nullable=False),
        sa.Column("fever_key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_app_passwords_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_passwords")),
        sa.UniqueConstraint("password_hash", name=op.f("uq_app_passwords_password_hash")),
        sa.UniqueConstraint("fever_key_hash", name=op.f("uq_app_passwords_fever_key_hash")),
    )
    op.create_index(op.f("ix_app_passwords_user_id"), "app_passwords", ["user_id"])


def downgrade() -> None:
    op.drop_table("app_passwords")

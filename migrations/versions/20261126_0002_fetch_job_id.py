"""fetches.job_id: the RQ job of a fetch carried by a batch job

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fetches", sa.Column("job_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_index(
        "ix_fetches_pending_job",
        "fetches",
        ["job_id"],
        unique=False,
        postgresql_where=sa.text("state IN ('queued','running')"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_fetches_pending_job",
        table_name="fetches",
        postgresql_where=sa.text("state IN ('queued','running')"),
    )
    op.drop_column("fetches", "job_id")

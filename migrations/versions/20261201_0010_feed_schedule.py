"""feed_schedule: the scheduler's due order in a narrow table of its own, so no update of a
feed's row changes an indexed column

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 00:00:00

Until now the due order was an index on ``feeds.next_fetch_at`` (``ix_feeds_due``), and
every claim moved that column: a new row version with an entry in each of the feeds'
indexes (the primary key and the 1 GB URL index at 10,000,000 feeds), each a random leaf
written whole to the WAL after a checkpoint. Now ``feeds.next_fetch_at`` is not indexed
(every update of a feed can be HOT), and the order lives in ``feed_schedule``: one
``(due_at, feed_id)`` row per scheduled time, written by a trigger whenever a refreshable
feed gets a new ``next_fetch_at`` (or becomes refreshable), taken and deleted by the
scheduler's claim (app.storage.feeds.claim_due_feeds). A row whose feed has since moved
(another time, paused, deleted) is stale: the claim deletes it when it comes due, so no
writer of ``next_fetch_at`` has to find and remove the old one (nor needs an index on
``feed_id`` to do so).

The backfill is one ``INSERT … SELECT``: on a large table run it outside the busiest hour.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

REFRESHABLE = "state IN ('active','error')"


def upgrade() -> None:
    op.create_table(
        "feed_schedule",
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        # Every row is deleted once it comes due: vacuum after 2 % of the rows are dead,
        # not the default 20 %, so the claim's index scan skips few dead entries.
        postgresql_with={"autovacuum_vacuum_scale_factor": 0.02},
    )
    op.create_index("ix_feed_schedule_due_at", "feed_schedule", ["due_at"])
    op.execute(
        f"""
        CREATE FUNCTION feed_scheduled() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO feed_schedule (due_at, feed_id) VALUES (NEW.next_fetch_at, NEW.id);
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER feeds_scheduled_on_insert AFTER INSERT ON feeds FOR EACH ROW
            WHEN (NEW.next_fetch_at IS NOT NULL AND NEW.{REFRESHABLE})
            EXECUTE FUNCTION feed_scheduled();
        CREATE TRIGGER feeds_scheduled_on_update AFTER UPDATE OF next_fetch_at, state
            ON feeds FOR EACH ROW
            WHEN (NEW.next_fetch_at IS NOT NULL AND NEW.{REFRESHABLE}
                  AND (OLD.next_fetch_at IS DISTINCT FROM NEW.next_fetch_at
                       OR OLD.state IS DISTINCT FROM NEW.state))
            EXECUTE FUNCTION feed_scheduled();
        -- In due order, so the rows a claim takes together share pages (as the
        -- trigger's rows do: it appends them in claim order).
        INSERT INTO feed_schedule (due_at, feed_id)
            SELECT next_fetch_at, id FROM feeds
            WHERE next_fetch_at IS NOT NULL AND {REFRESHABLE}
            ORDER BY next_fetch_at;
        """
    )
    op.drop_index("ix_feeds_due", table_name="feeds")


def downgrade() -> None:
    op.create_index(
        "ix_feeds_due", "feeds", ["next_fetch_at"], postgresql_where=sa.text(REFRESHABLE)
    )
    op.execute(
        """
        DROP TRIGGER feeds_scheduled_on_update ON feeds;
        DROP TRIGGER feeds_scheduled_on_insert ON feeds;
        DROP FUNCTION feed_scheduled();
        """
    )
    op.drop_index("ix_feed_schedule_due_at", table_name="feed_schedule")
    op.drop_table("feed_schedule")

"""The timeline keeps the events it applied in a table of its own, beside its rows: a rebuild
swaps it in with the other fresh tables by renaming, where the shared `applied_events` made
the swap rewrite one row per event while every live writer waited for it.

Revision ID: 0015_timeline_applied_events
Revises: 0014_timeline_write_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_timeline_applied_events"
down_revision = "0014_timeline_write_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("timeline_applied_events", sa.Column("event_id", sa.String(36), primary_key=True))
    op.execute("INSERT INTO timeline_applied_events (event_id) "
               "SELECT event_id FROM applied_events WHERE projection = 'timeline'")
    op.execute("DELETE FROM applied_events WHERE projection = 'timeline'")


def downgrade() -> None:
    op.execute("INSERT INTO applied_events (projection, event_id) "
               "SELECT 'timeline', event_id FROM timeline_applied_events")
    op.drop_table("timeline_applied_events")

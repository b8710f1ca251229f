"""Timeline entries by recorded_at: the agent UI's live feed asks for what was recorded lately.

Revision ID: 0007_timeline_recorded
Revises: 0003_timeline
"""

from alembic import op

revision = "0007_timeline_recorded"
down_revision = "0003_timeline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_timeline_recorded", "timeline_entries", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_timeline_recorded", table_name="timeline_entries")

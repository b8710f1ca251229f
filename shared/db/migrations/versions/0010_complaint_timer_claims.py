"""The SLA timers' own record of the points they published (the lock that makes each one go out
once), apart from `sla_fired_timers`, which the complaints processor keeps from the log.

Revision ID: 0010_complaint_timer_claims
Revises: 0004_complaints
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_complaint_timer_claims"
down_revision = "0004_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_timer_claims",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("point", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # points fired before this revision stay fired
    op.execute("INSERT INTO sla_timer_claims (complaint_id, kind, point, event_id, claimed_at) "
               "SELECT complaint_id, kind, point, event_id, fired_at FROM sla_fired_timers")


def downgrade() -> None:
    op.drop_table("sla_timer_claims")

"""Complaints read model and SLA timer bookkeeping.

Revision ID: 0004_complaints
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_complaints"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per complaint: what it is about, and its clocks as of the last refresh.
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), index=True),
        sa.Column("email", sa.String(320), index=True),
        sa.Column("phone", sa.String(32), index=True),
        sa.Column("customer_ref", sa.String(128)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("segment", sa.String(64)),
        sa.Column("team", sa.String(64), index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("policy", sa.String(64)),
        sa.Column("policy_version", sa.Integer),
        sa.Column("first_response_due", sa.DateTime(timezone=True)),
        sa.Column("resolution_due", sa.DateTime(timezone=True)),
        sa.Column("next_timer_at", sa.DateTime(timezone=True), index=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The complaint's own events: the clocks are recomputed from these.
    op.create_table(
        "complaint_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(64), nullable=False, index=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "complaint_threads",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("thread_key", sa.String(512), primary_key=True),
    )
    op.create_index("ix_complaint_threads_thread_key", "complaint_threads", ["thread_key"])
    # Timers published: the primary key makes a second publication of the same point fail.
    # Kept across rebuilds: it records side effects, not a view.
    op.create_table(
        "sla_fired_timers",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("point", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
    )
    # How each clock ended, under the policy version it was measured with.
    op.create_table(
        "sla_outcomes",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("business_seconds", sa.Float),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("concluded_at", sa.DateTime(timezone=True)),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
    )
    # Customer segments by identifier (from customer master data), for policies per segment.
    op.create_table(
        "complaint_customer_segments",
        sa.Column("identifier", sa.String(400), primary_key=True),
        sa.Column("customer_ref", sa.String(128), nullable=False, index=True),
        sa.Column("segment", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("complaint_customer_segments")
    op.drop_table("sla_outcomes")
    op.drop_table("sla_fired_timers")
    op.drop_index("ix_complaint_threads_thread_key", "complaint_threads")
    op.drop_table("complaint_threads")
    op.drop_table("complaint_events")
    op.drop_table("complaints")

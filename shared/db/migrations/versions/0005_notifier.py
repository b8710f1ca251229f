"""Notifier: what it remembers about customers and complaints, the notifications it owes
(intent and outcome in one row), and an outbox of events and dead letters for Kafka.

Revision ID: 0005_notifier
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_notifier"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_customers",
        sa.Column("customer_ref", sa.String(255), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("segment", sa.String(255)),
        sa.Column("email", sa.String(320)),
        sa.Column("language", sa.String(16)),
    )
    # identifier key ("email:x", "phone:+49...", "order_ref:o-1") -> customer
    op.create_table(
        "notifier_contact_keys",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("customer_ref", sa.String(255), nullable=False),
    )
    op.create_table(
        "notifier_complaints",
        sa.Column("complaint_id", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "notifier_complaint_keys",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("complaint_id", sa.String(255), primary_key=True),
    )
    # inbound contacts since the last response, per customer (or contact)
    op.create_table(
        "notifier_inbound",
        sa.Column("identity", sa.String(512), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notifier_notifications",
        sa.Column("notification_id", sa.String(36), primary_key=True),
        sa.Column("trigger_event_id", sa.String(36), nullable=False),
        sa.Column("trigger_type", sa.String(64), nullable=False),
        sa.Column("complaint_id", sa.String(255)),
        sa.Column("clock_kind", sa.String(32)),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        # pending -> claimed -> sending -> sent | pending (retry) | failed; in_doubt; cancelled
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("held", sa.Boolean, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("message_id", sa.String(512)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifier_notifications_due", "notifier_notifications", ["status", "next_attempt_at"])
    op.create_index("ix_notifier_notifications_complaint", "notifier_notifications", ["complaint_id"])
    op.create_index("ix_notifier_notifications_message_id", "notifier_notifications", ["message_id"])
    op.create_table(
        "notifier_outbox",
        sa.Column("outbox_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # event | deadletter
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifier_outbox_unpublished", "notifier_outbox", ["published_at"])


def downgrade() -> None:
    op.drop_table("notifier_outbox")
    op.drop_table("notifier_notifications")
    op.drop_table("notifier_inbound")
    op.drop_table("notifier_complaint_keys")
    op.drop_table("notifier_complaints")
    op.drop_table("notifier_contact_keys")
    op.drop_table("notifier_customers")

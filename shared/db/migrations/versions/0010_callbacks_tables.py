"""The callback queue and what the callback decisions remember (pending missed calls, when
each number last reached us).

Revision ID: 0010_callbacks_tables
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_callbacks_tables"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("callback_id", sa.String(36), primary_key=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("provider", sa.String(32)),
        sa.Column("call_id", sa.String(255)),
        sa.Column("queue", sa.String(255)),
        sa.Column("disposition", sa.String(32)),
        _at("missed_at"),
        _at("opened_at"),
        sa.Column("attempts", sa.Integer, nullable=False),
        _at("last_attempt_at"),
        _at("overdue_at"),
        sa.Column("status", sa.String(16), nullable=False),
        _at("closed_at"),
        sa.Column("close_event_id", sa.String(36)),
        sa.Column("close_reason", sa.String(32)),
        sa.Column("closed_by", sa.String(200)),
        sa.Column("closed_by_kind", sa.String(16)),
        sa.Column("close_note", sa.Text),
        sa.Column("closing_call_id", sa.String(255)),
        sa.Column("correlation_id", sa.String(64)),
    )
    op.create_index("ix_callbacks_phone", "callbacks", ["phone"])
    op.create_index("ix_callbacks_status", "callbacks", ["status"])
    op.create_table(
        "callback_pending",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(255), primary_key=True),
        sa.Column("phone", sa.String(32), nullable=False),
        _at("missed_at", nullable=False),
        _at("due_at", nullable=False),
        sa.Column("disposition", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(255)),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("cause_event_id", sa.String(36)),
        sa.Column("correlation_id", sa.String(64)),
    )
    op.create_index("ix_callback_pending_phone", "callback_pending", ["phone"])
    op.create_table(
        "callback_reached",
        sa.Column("phone", sa.String(32), primary_key=True),
        _at("reached_at", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("callback_reached")
    op.drop_index("ix_callback_pending_phone", "callback_pending")
    op.drop_table("callback_pending")
    op.drop_index("ix_callbacks_status", "callbacks")
    op.drop_index("ix_callbacks_phone", "callbacks")
    op.drop_table("callbacks")

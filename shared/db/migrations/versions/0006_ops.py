"""Ops: who replayed which dead letter.

Revision ID: 0006_ops
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_ops"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadletter_replays",
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("offset", sa.BigInteger, primary_key=True),
        sa.Column("replayed_by", sa.String(255), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target_topic", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deadletter_replays")

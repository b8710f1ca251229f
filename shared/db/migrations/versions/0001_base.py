"""Base: consumer tracking shared by every projection.

Revision ID: 0001_base
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The next offset to read per projection and partition, committed in the same
    # transaction as the read-model rows it produced.
    op.create_table(
        "projection_offsets",
        sa.Column("projection", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Events a projection has applied: a duplicate key means "already done".
    op.create_table(
        "applied_events",
        sa.Column("projection", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("applied_events")
    op.drop_table("projection_offsets")

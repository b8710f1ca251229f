"""Notifier: addresses that hard-bounced, which it does not write to.

Revision ID: 0008_notifier_undeliverable
Revises: 0005_notifier
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_notifier_undeliverable"
down_revision = "0005_notifier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_undeliverable",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("hard_bounced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notifier_undeliverable")

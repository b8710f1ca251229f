"""The notifier's record of consent per contact key and purpose (it does not write to a
customer who withdrew the purpose its mail uses).

Revision ID: 0011c_notifier_consents
Revises: 0008_notifier_undeliverable
"""

import sqlalchemy as sa
from alembic import op

revision = "0011c_notifier_consents"
down_revision = "0008_notifier_undeliverable"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_consents",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("purpose", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notifier_consents")

"""Identities remember when an address last hard-bounced (the customer page shows it).

Revision ID: 0008_identity_hard_bounces
Revises: 0007_timeline_recorded
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_identity_hard_bounces"
down_revision = "0007_timeline_recorded"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("identities", sa.Column("hard_bounced_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("identities", "hard_bounced_at")

"""The IMAP pollers' last sign-in outcome per mailbox (shown on /ops).

Revision ID: 0008_imap_signin
Revises: 0002_imap_checkpoints
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_imap_signin"
down_revision = "0002_imap_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imap_signin",
        sa.Column("mailbox", sa.String(128), primary_key=True),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("imap_signin")

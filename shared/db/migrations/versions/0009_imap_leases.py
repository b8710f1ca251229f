"""Which IMAP poller instance holds which mailbox folder, and until when; and which instances
are alive, so they share the folders evenly.

Revision ID: 0009_imap_leases
Revises: 0002_imap_checkpoints
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_imap_leases"
down_revision = "0002_imap_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imap_folder_leases",
        sa.Column("mailbox", sa.String(128), primary_key=True),
        sa.Column("folder", sa.String(512), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "imap_instances",
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("imap_instances")
    op.drop_table("imap_folder_leases")

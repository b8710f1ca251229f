"""IMAP sync state: a checkpoint per mailbox folder and the mails already published.

Revision ID: 0002_imap_checkpoints
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_imap_checkpoints"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Where each folder's sync stands; moved only after Kafka acknowledged the events.
    op.create_table(
        "imap_checkpoints",
        sa.Column("mailbox", sa.String(128), primary_key=True),
        sa.Column("folder", sa.String(512), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=False),
        sa.Column("highest_uid", sa.BigInteger, nullable=False),
        sa.Column("first_synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Event ids already acknowledged by Kafka: a resync after a UIDVALIDITY change, or the
    # same mail in a second folder, is recognised here and not published again.
    op.create_table(
        "imap_published",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("mailbox", sa.String(128), nullable=False),
        sa.Column("folder", sa.String(512), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger, nullable=False),
        sa.Column("uid", sa.BigInteger, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("imap_published")
    op.drop_table("imap_checkpoints")

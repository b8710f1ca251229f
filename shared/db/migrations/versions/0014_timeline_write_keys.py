"""The keys timeline writers lock, so that projector instances side by side wait for each
other only where they touch the same customer's rows (services/projector/timeline/write_keys.py).

Revision ID: 0014_timeline_write_keys
Revises: 0013g_complaint_redactions
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_timeline_write_keys"
down_revision = "0013g_complaint_redactions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("timeline_write_keys", sa.Column("key", sa.BigInteger, primary_key=True))


def downgrade() -> None:
    op.drop_table("timeline_write_keys")

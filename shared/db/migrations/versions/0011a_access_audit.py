"""The access audit: who read which customer's data, when, what and from where.

Revision ID: 0011a_access_audit
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0011a_access_audit"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_audit",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(64)),
        sa.Column("blob_sha256", sa.String(64)),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
    )
    op.create_index("ix_access_audit_customer", "access_audit",
                    ["customer_id", sa.text("accessed_at DESC"), "event_id"])


def downgrade() -> None:
    op.drop_index("ix_access_audit_customer", "access_audit")
    op.drop_table("access_audit")

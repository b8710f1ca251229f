"""Web sessions ended by logout before their cookie expires.

Revision ID: 0008_revoked_sessions
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_revoked_sessions"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("revoked_sessions")

"""What the complaints read model redacted: per complaint, what it shows instead of its data
(erased, restricted until a hold ends, expired), and the classes and years retention expired, so
that `rebuild sla` and complaints opened later are redacted the same way.

Revision ID: 0013g_complaint_redactions
Revises: 0012r_retention
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013g_complaint_redactions"
down_revision = "0012r_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaint_redactions",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("summary", sa.String(16), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "complaint_expired_periods",
        sa.Column("retention_class", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("types", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("complaint_expired_periods")
    op.drop_table("complaint_redactions")

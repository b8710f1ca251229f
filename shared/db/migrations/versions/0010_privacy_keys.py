"""Data keys of personal data, one per subject and period, wrapped by the master key; and the
record of erasures (which subjects, when, by whom; no personal data).

Revision ID: 0010_privacy_keys
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_privacy_keys"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subject", "period", name="privacy_keys_one_per_subject_period"),
    )
    op.create_table(
        "privacy_erasures",
        sa.Column("erasure_id", sa.String(64), primary_key=True),
        sa.Column("subjects", sa.Text, nullable=False),
        sa.Column("keys_destroyed", sa.Integer, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("privacy_erasures")
    op.drop_table("privacy_keys")

"""Retention by period: key periods carry the retention class (`2020|email.*`), so the column is
wider; the record of what retention shredded (class, year, how many keys; no personal data);
the restrictions (GDPR Art. 18) of erased subjects whose data is still under a legal hold; and
the entries a restriction hides and the classes and years the timeline expired (so that entries
projected later, as in a rebuild, are hidden or expired on arrival).

Revision ID: 0012r_retention
Revises: 0010_privacy_keys
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012r_retention"
down_revision = "0010_privacy_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("privacy_keys") as batch:
        batch.alter_column("period", type_=sa.String(80), existing_type=sa.String(16), existing_nullable=False)
    op.create_table(
        "privacy_expiries",
        sa.Column("expiry_id", sa.String(64), primary_key=True),
        sa.Column("retention_class", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keys_destroyed", sa.Integer, nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "privacy_restrictions",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("period", sa.String(80), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erasure_id", sa.String(64), nullable=False),
        sa.Column("customer_ref", sa.String(255)),
        sa.Column("restricted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "timeline_expired_periods",
        sa.Column("retention_class", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("types", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    )
    op.create_table(
        "timeline_restricted_entries",
        sa.Column("entry_id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_privacy_restrictions_pending", "privacy_restrictions", ["until"],
                    postgresql_where=sa.text("shredded_at IS NULL"), sqlite_where=sa.text("shredded_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_privacy_restrictions_pending", table_name="privacy_restrictions")
    op.drop_table("timeline_restricted_entries")
    op.drop_table("timeline_expired_periods")
    op.drop_table("privacy_restrictions")
    op.drop_table("privacy_expiries")
    with op.batch_alter_table("privacy_keys") as batch:
        batch.alter_column("period", type_=sa.String(16), existing_type=sa.String(80), existing_nullable=False)

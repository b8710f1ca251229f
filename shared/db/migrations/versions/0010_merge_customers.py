"""A customer record merged into another: where it went, when and by whom (customer.merged);
indexes to find the records merged into one and the identifiers claimed by several.

Revision ID: 0010_merge_customers
Revises: 0008_identity_hard_bounces
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_merge_customers"
down_revision = "0008_identity_hard_bounces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("merged_into", sa.String(36)))
    op.add_column("customers", sa.Column("merged_at", sa.DateTime(timezone=True)))
    op.add_column("customers", sa.Column("merged_by", sa.String(200)))
    merged = sa.text("merged_into IS NOT NULL")
    op.create_index("ix_customers_merged_into", "customers", ["merged_into"], postgresql_where=merged, sqlite_where=merged)
    ambiguous = sa.text("ambiguous")
    op.create_index("ix_identities_ambiguous", "identities", ["kind"], postgresql_where=ambiguous, sqlite_where=ambiguous)


def downgrade() -> None:
    op.drop_index("ix_identities_ambiguous", "identities")
    op.drop_index("ix_customers_merged_into", "customers")
    for column in ("merged_by", "merged_at", "merged_into"):
        op.drop_column("customers", column)

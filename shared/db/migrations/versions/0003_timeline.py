"""Timeline read model: customers (and unmatched contacts), identities, timeline entries.

Revision ID: 0003_timeline
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_timeline"
down_revision = "0001_base"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
IDENTIFIER_COLUMNS = ("email", "phone", "customer_ref", "order_ref", "tracking_number")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("customer_ref", sa.String(255)),
        sa.Column("emails", Json, nullable=False),
        sa.Column("phones", Json, nullable=False),
        sa.Column("order_refs", Json, nullable=False),
        sa.Column("segment", sa.String(64)),
        sa.Column("language", sa.String(16)),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_customers_ref", "customers", ["customer_ref"])
    op.create_table(
        "identities",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(320), primary_key=True),
        sa.Column("claimants", Json, nullable=False),
        sa.Column("customer_id", sa.String(36)),
        sa.Column("ambiguous", sa.Boolean, nullable=False),
    )
    op.create_index("ix_identities_customer", "identities", ["customer_id"])
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("entry_key", sa.Text, nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("contact_id", sa.String(36)),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("details", Json, nullable=False),
        sa.Column("ambiguous", sa.Boolean, nullable=False),
        sa.Column("candidates", Json, nullable=False),
        *(sa.Column(name, sa.String(320)) for name in IDENTIFIER_COLUMNS),
        sa.Column("complaint_id", sa.String(255)),
    )
    # newest-first pages per timeline: keyset on (occurred_at DESC, id)
    op.create_index("ix_timeline_owner_time", "timeline_entries", ["owner_id", sa.text("occurred_at DESC"), "id"])
    op.create_index("ix_timeline_owner_channel_time", "timeline_entries",
                    ["owner_id", "channel", sa.text("occurred_at DESC"), "id"])
    for name in (*IDENTIFIER_COLUMNS, "complaint_id"):
        where = sa.text(f"{name} IS NOT NULL")
        op.create_index(f"ix_timeline_{name}", "timeline_entries", [name], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    op.drop_table("timeline_entries")
    op.drop_table("identities")
    op.drop_table("customers")

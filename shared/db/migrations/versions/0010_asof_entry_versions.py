"""Every state of each timeline entry by recorded time: the timeline as of an instant.

Existing entries get their current state as one version from their recorded time; their
earlier states are only known after `touchpoint rebuild timeline`.

Revision ID: 0010_asof_entry_versions
Revises: 0008_identity_hard_bounces
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010_asof_entry_versions"
down_revision = "0008_identity_hard_bounces"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
IDENTIFIER_COLUMNS = ("email", "phone", "customer_ref", "order_ref", "tracking_number")
COLUMNS = ("id", "entry_key", "owner_id", "contact_id", "event_id", "type", "channel", "direction", "occurred_at",
           "recorded_at", "summary", "details", "ambiguous", "candidates", *IDENTIFIER_COLUMNS, "complaint_id")


def upgrade() -> None:
    op.create_table(
        "timeline_entry_versions",
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
        sa.Column("version_at", sa.DateTime(timezone=True), primary_key=True),
    )
    op.create_index("ix_timeline_versions_owner_time", "timeline_entry_versions",
                    ["owner_id", sa.text("occurred_at DESC"), "id", "version_at"])
    op.create_index("ix_timeline_versions_complaint", "timeline_entry_versions", ["owner_id", "complaint_id", "version_at"],
                    postgresql_where=sa.text("complaint_id IS NOT NULL"), sqlite_where=sa.text("complaint_id IS NOT NULL"))
    columns = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO timeline_entry_versions ({columns}, version_at) "
               f"SELECT {columns}, recorded_at FROM timeline_entries")


def downgrade() -> None:
    op.drop_table("timeline_entry_versions")

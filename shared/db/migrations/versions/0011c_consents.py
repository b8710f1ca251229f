"""Consent per subject and purpose: the latest statement and every statement, and the subjects
erased.

Revision ID: 0011c_consents
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "0011c_consents"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def _columns(keyed_by_subject: bool) -> list[sa.Column]:
    return [
        sa.Column("subject_id", sa.String(36), nullable=False, primary_key=keyed_by_subject),
        sa.Column("purpose", sa.String(40), nullable=False, primary_key=keyed_by_subject),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("form_id", sa.String(255)),
        sa.Column("field", sa.String(255)),
        sa.Column("text_version", sa.String(255)),
        sa.Column("submission_id", sa.String(64)),
        sa.Column("actor", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column("customer_ref", sa.String(255)),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
    ]


def upgrade() -> None:
    op.create_table("consent_states", *_columns(keyed_by_subject=True),
                    sa.Column("event_id", sa.String(36), nullable=False))
    op.create_table("consent_history", sa.Column("event_id", sa.String(36), primary_key=True),
                    *_columns(keyed_by_subject=False))
    op.create_index("ix_consent_history_subject", "consent_history", ["subject_id", "occurred_at"])
    op.create_table("consent_erased_subjects", sa.Column("subject_id", sa.String(36), primary_key=True))


def downgrade() -> None:
    op.drop_table("consent_erased_subjects")
    op.drop_index("ix_consent_history_subject", "consent_history")
    op.drop_table("consent_history")
    op.drop_table("consent_states")

"""The consent read model (created by Alembic revision 0011c_consents).

`consent_states` holds the latest statement per subject and purpose; `consent_history` every
statement. A subject is the read-model id of whom the event names: the customer of its
customer reference, else the unmatched contact of its address or number, so the customer page
finds both its own rows and those of its addresses and numbers."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text

metadata = MetaData()


def _columns(keyed_by_subject: bool) -> list[Column]:  # type: ignore[type-arg]
    return [
        Column("subject_id", String(36), nullable=False, primary_key=keyed_by_subject),
        Column("purpose", String(40), nullable=False, primary_key=keyed_by_subject),
        Column("state", String(16), nullable=False),  # given | withdrawn
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("channel", String(16), nullable=False),
        Column("source_kind", String(16), nullable=False),  # webform | agent
        Column("form_id", String(255)),
        Column("field", String(255)),
        Column("text_version", String(255)),
        Column("submission_id", String(64)),
        Column("actor", String(200)),
        Column("note", Text),
        Column("customer_ref", String(255)),
        Column("email", String(320)),
        Column("phone", String(32)),
    ]


consent_states = Table(
    "consent_states", metadata,
    *_columns(keyed_by_subject=True),
    Column("event_id", String(36), nullable=False),
)

consent_history = Table(
    "consent_history", metadata,
    Column("event_id", String(36), primary_key=True),
    *_columns(keyed_by_subject=False),
)
# subjects erased: a statement about one that is read later (a rebuild reads topics side by
# side, so the erasure may come first) is held without its personal data
consent_erased_subjects = Table(
    "consent_erased_subjects", metadata,
    Column("subject_id", String(36), primary_key=True),
)

Index("ix_consent_history_subject", consent_history.c.subject_id, consent_history.c.occurred_at)

"""The notifier's tables (created by migration 0005_notifier)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

customers = Table(
    "notifier_customers",
    metadata,
    Column("customer_ref", String(255), primary_key=True),
    Column("name", Text),
    Column("segment", String(255)),
    Column("email", String(320)),
    Column("language", String(16)),
)

contact_keys = Table(
    "notifier_contact_keys",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("customer_ref", String(255), nullable=False),
)

complaints = Table(
    "notifier_complaints",
    metadata,
    Column("complaint_id", String(255), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("facts", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True)),
)

complaint_keys = Table(
    "notifier_complaint_keys",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("complaint_id", String(255), primary_key=True),
)

inbound = Table(
    "notifier_inbound",
    metadata,
    Column("identity", String(512), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)

undeliverable = Table(
    "notifier_undeliverable",  # revision 0008_notifier_undeliverable
    metadata,
    Column("address", String(320), primary_key=True),
    Column("hard_bounced_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(36), nullable=False),
)

consents = Table(
    "notifier_consents",  # revision 0011c_notifier_consents
    metadata,
    Column("key", String(512), primary_key=True),
    Column("purpose", String(40), primary_key=True),
    Column("state", String(16), nullable=False),  # given | withdrawn: the latest statement for the key
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(36), nullable=False),
)

notifications = Table(
    "notifier_notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("trigger_event_id", String(36), nullable=False),
    Column("trigger_type", String(64), nullable=False),
    Column("complaint_id", String(255)),
    Column("clock_kind", String(32)),
    Column("rule", String(255), nullable=False),
    Column("level", Integer, nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("held", Boolean, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("message_id", String(512)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

outbox = Table(
    "notifier_outbox",
    metadata,
    Column("outbox_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
)


def utc(moment: datetime) -> datetime:
    """Times are stored in UTC (SQLite keeps no offset); naive ones read back are UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

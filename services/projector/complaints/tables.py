"""The complaints tables (created by Alembic revisions 0004_complaints and 0010_complaint_timer_claims).

The complaints processor writes all of them except `sla_timer_claims`, the SLA timers' own
record of what they published."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()


def _at(name: str, **kwargs) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), **kwargs)


complaints = Table(
    "complaints", metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("customer_id", String(64)),
    Column("email", String(320)),
    Column("phone", String(32)),
    Column("customer_ref", String(128)),
    Column("origin", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("segment", String(64)),
    Column("team", String(64)),
    Column("status", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    _at("opened_at", nullable=False),
    _at("responded_at"),
    _at("resolved_at"),
    Column("reopen_count", Integer, nullable=False),
    Column("policy", String(64)),
    Column("policy_version", Integer),
    _at("first_response_due"),
    _at("resolution_due"),
    _at("next_timer_at"),
    _at("updated_at", nullable=False),
)

complaint_events = Table(
    "complaint_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("complaint_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    _at("occurred_at", nullable=False),
    Column("seq", Integer, nullable=False),
    Column("body", Text, nullable=False),
)

complaint_threads = Table(
    "complaint_threads", metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("thread_key", String(512), primary_key=True),
)

sla_fired_timers = Table(
    "sla_fired_timers", metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("point", String(16), primary_key=True),
    Column("event_id", String(36), nullable=False),
    _at("due_at", nullable=False),
    Column("policy", String(64), nullable=False),
    Column("policy_version", Integer, nullable=False),
    _at("fired_at", nullable=False),
)

sla_timer_claims = Table(
    "sla_timer_claims", metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("point", String(16), primary_key=True),
    Column("event_id", String(36), nullable=False),
    _at("claimed_at", nullable=False),
)

sla_outcomes = Table(
    "sla_outcomes", metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("business_seconds", Float),
    _at("due_at"),
    _at("concluded_at"),
    Column("policy", String(64), nullable=False),
    Column("policy_version", Integer, nullable=False),
)

customer_segments = Table(
    "complaint_customer_segments", metadata,
    Column("identifier", String(400), primary_key=True),  # "email:...", "phone:...", "customer_ref:..."
    Column("customer_ref", String(128), nullable=False),
    Column("segment", String(64)),
)

"""The callback tables (created by Alembic revision 0010_callbacks_tables).

`callbacks` is the queue, written only by applying `callback.*` events (a rebuild from the log
gives the same rows); `callback_pending` and `callback_reached` are what the decisions
remember between calls: missed calls waiting out the grace time, and when each number last
spoke with us."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()


def _at(name: str, **kwargs) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), **kwargs)


callbacks = Table(
    "callbacks", metadata,
    Column("callback_id", String(36), primary_key=True),
    Column("phone", String(32), nullable=False),
    Column("customer_id", String(64)),
    Column("provider", String(32)),
    Column("call_id", String(255)),
    Column("queue", String(255)),
    Column("disposition", String(32)),
    _at("missed_at"),
    _at("opened_at"),
    Column("attempts", Integer, nullable=False),
    _at("last_attempt_at"),
    _at("overdue_at"),
    Column("status", String(16), nullable=False),
    _at("closed_at"),
    Column("close_event_id", String(36)),
    Column("close_reason", String(32)),
    Column("closed_by", String(200)),
    Column("closed_by_kind", String(16)),
    Column("close_note", Text),
    Column("closing_call_id", String(255)),
    Column("correlation_id", String(64)),
)

callback_pending = Table(
    "callback_pending", metadata,
    Column("provider", String(32), primary_key=True),
    Column("call_id", String(255), primary_key=True),
    Column("phone", String(32), nullable=False),
    _at("missed_at", nullable=False),
    _at("due_at", nullable=False),
    Column("disposition", String(32), nullable=False),
    Column("queue", String(255)),
    Column("customer_id", String(64)),
    Column("cause_event_id", String(36)),
    Column("correlation_id", String(64)),
)

callback_reached = Table(
    "callback_reached", metadata,
    Column("phone", String(32), primary_key=True),
    _at("reached_at", nullable=False),
)

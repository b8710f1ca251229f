"""The access audit's read model (Alembic revision 0011a_access_audit): one row per read, keyed
by the event id, so the row itself says "applied" and a replay adds nothing. It holds ids, a
user name, a role and a client address: nothing of the customer beyond its read-model id."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table

metadata = MetaData()

access_audit = Table(
    "access_audit", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("accessed_at", DateTime(timezone=True), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("resource", String(16), nullable=False),
    Column("entry_id", String(64)),
    Column("blob_sha256", String(64)),
    Column("client_address", String(64), nullable=False),
    Column("via", String(8), nullable=False),
)
Index("ix_access_audit_customer", access_audit.c.customer_id, access_audit.c.accessed_at.desc(),
      access_audit.c.event_id)

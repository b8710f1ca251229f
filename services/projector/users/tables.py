"""The `users` table (Alembic revision 0010_users_accounts creates it; keep the two in step)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table

users_metadata = MetaData()

users = Table(
    "users",
    users_metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("extension", String(32)),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    # raised by every password change and by disable: cookies carry the epoch they were issued
    # under, so both end the user's existing sessions
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

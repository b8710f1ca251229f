"""Logout ends a session on the server: its id is kept in `revoked_sessions` until the cookie
would have expired anyway, and a cookie naming a revoked id opens no session (a copied cookie
is worthless after logout, in every API process sharing the database)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.web.session import Session

revocation_metadata = MetaData()

revoked_sessions = Table(
    "revoked_sessions",
    revocation_metadata,
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


async def revoke(engine: AsyncEngine, session: Session) -> None:
    expires = datetime.fromtimestamp(session.expires_at, UTC)
    try:
        async with engine.begin() as conn:
            # forget revocations whose cookies have expired: they can no longer be presented
            await conn.execute(delete(revoked_sessions).where(revoked_sessions.c.expires_at < datetime.now(UTC)))
            await conn.execute(revoked_sessions.insert().values(session_id=session.id, expires_at=expires))
    except IntegrityError:
        pass  # logged out twice


async def is_revoked(engine: AsyncEngine, session: Session) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(revoked_sessions.c.session_id)
                                   .where(revoked_sessions.c.session_id == session.id))
        return found.first() is not None

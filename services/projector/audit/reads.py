"""Whose data a read of an entry or a blob touched: the read model knows the owner of each
timeline entry, and which entries list a blob (a blob shared by several customers' mails is
recorded as a read of each)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.audit import Resource
from services.projector.audit.access import Read
from services.projector.timeline.tables import TIMELINE

E = TIMELINE.entries


async def entry_reads(engine: AsyncEngine, entry_id: str, resource: Resource) -> list[Read]:
    async with engine.connect() as conn:
        owner = await conn.scalar(sa.select(E.c.owner_id).where(E.c.id == entry_id))
    return [Read(resource, owner, entry_id=entry_id)] if owner else []


async def blob_reads(engine: AsyncEngine, sha256: str, limit: int = 20) -> list[Read]:
    # the same search the download's key lookup makes (services/projector/privacy/blob_keys.py)
    query = (sa.select(E.c.owner_id, E.c.id).where(sa.cast(E.c.details, sa.Text).like(f"%{sha256}%"))
             .order_by(E.c.owner_id, E.c.id).limit(limit))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    first_per_owner: dict[str, str] = {}
    for owner, entry in rows:
        first_per_owner.setdefault(owner, entry)
    return [Read("attachment", owner, entry_id=entry, blob_sha256=sha256) for owner, entry in first_per_owner.items()]

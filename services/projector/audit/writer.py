"""The one writer of the access audit: the rows of a batch and the batch's positions in one
transaction. A row whose event id is there already was applied before and is skipped, so a
batch read twice (a restart, a rebalance, a rebuild over a live table) adds nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.projector.audit.projection import PROJECTION, AuditRow, apply
from services.projector.audit.tables import access_audit
from services.projector.metrics import DUPLICATES_SKIPPED, EVENTS_APPLIED
from shared.db.tracking import store_offsets
from shared.kafka.consumer import Consumed

Position = tuple[str, int]


class AuditWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, consumed: Sequence[Consumed], next_offsets: Mapping[Position, int]) -> int:
        """Stores the rows of `consumed` and `next_offsets`; returns how many rows were new. Raises on failure."""
        rows = [row for item in consumed for row in apply(item.event)]
        async with self.engine.begin() as conn:
            added = await insert_new(conn, rows)
            await store_offsets(conn, PROJECTION, next_offsets)
        if added:
            EVENTS_APPLIED.labels(PROJECTION, "customer.accessed").inc(added)
        if len(rows) > added:
            DUPLICATES_SKIPPED.labels(PROJECTION).inc(len(rows) - added)
        return added


async def insert_new(conn: AsyncConnection, rows: Sequence[AuditRow]) -> int:
    if not rows:
        return 0
    ids = {row.event_id for row in rows}
    present = set((await conn.execute(sa.select(access_audit.c.event_id).where(
        access_audit.c.event_id.in_(sorted(ids))))).scalars())
    fresh: dict[str, AuditRow] = {}
    for row in rows:
        if row.event_id not in present:
            fresh.setdefault(row.event_id, row)
    if fresh:
        await conn.execute(access_audit.insert(), [row.as_values() for row in fresh.values()])
    return len(fresh)

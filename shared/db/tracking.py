"""Tracking records: which events a projection applied and where it is in each partition.

A writer calls these inside the same transaction as its read-model changes, so a crash
either keeps both or neither; an event already tracked is skipped ("already applied")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, any_, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.upsert import upsert_statement

tracking_metadata = MetaData()

projection_offsets = Table(
    "projection_offsets",
    tracking_metadata,
    Column("projection", String(64), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

applied_events = Table(
    "applied_events",
    tracking_metadata,
    Column("projection", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
)

Position = tuple[str, int]  # (topic, partition)


async def unapplied(conn: AsyncConnection, projection: str, event_ids: Iterable[str]) -> set[str]:
    """The ids among `event_ids` this projection has not applied yet."""
    wanted = set(event_ids)
    if not wanted:
        return set()
    ids = sorted(wanted)
    if conn.dialect.name == "postgresql":
        # one array parameter: a single stable statement, fast even before the table is analysed
        rows = await conn.execute(
            select(applied_events.c.event_id).where(
                applied_events.c.projection == projection,
                applied_events.c.event_id == any_(bindparam("ids", type_=ARRAY(String))),
            ),
            {"ids": ids},
        )
        return wanted - {row[0] for row in rows}
    return wanted - await _present(conn, applied_events.c.event_id, ids, applied_events.c.projection == projection)


async def _present(conn: AsyncConnection, column: Column, ids: list[str], *conditions: Any) -> set[str]:
    """The ids among `ids` that `column` holds (where `conditions` hold), asked 500 at a time:
    SQLite takes a limited number of parameters per statement."""
    seen: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        seen.update(row[0] for row in await conn.execute(select(column).where(*conditions, column.in_(chunk))))
    return seen


_CLAIM = text("INSERT INTO applied_events (projection, event_id) "
              "SELECT :projection, id FROM unnest(CAST(:ids AS varchar[])) AS id ORDER BY id "
              "ON CONFLICT DO NOTHING RETURNING event_id")


async def claim_unapplied(conn: AsyncConnection, projection: str, event_ids: Iterable[str]) -> set[str]:
    """Marks applied, in the caller's transaction, the ids among `event_ids` this projection has
    not applied yet, and returns them: on PostgreSQL one statement instead of a look-up now and
    an insert at the end. A writer applying the same event meanwhile is waited for, and then
    its event counts as applied."""
    wanted = sorted(set(event_ids))
    if not wanted:
        return set()
    if conn.dialect.name != "postgresql":
        fresh = await unapplied(conn, projection, wanted)
        await mark_applied(conn, projection, sorted(fresh))
        return fresh
    rows = await conn.execute(_CLAIM, {"projection": projection, "ids": wanted})
    return {row[0] for row in rows}


async def claim_unapplied_in(conn: AsyncConnection, table: Table, event_ids: Iterable[str]) -> set[str]:
    """`claim_unapplied` for a view that keeps its applied events in a table of its own (one
    `event_id` column), so that a rebuild swaps them in with the view's other tables."""
    wanted = sorted(set(event_ids))
    if not wanted:
        return set()
    if conn.dialect.name == "postgresql":
        claim = text(f'INSERT INTO "{table.name}" (event_id) SELECT id FROM unnest(CAST(:ids AS varchar[])) AS id '
                     "ORDER BY id ON CONFLICT DO NOTHING RETURNING event_id")
        return {row[0] for row in await conn.execute(claim, {"ids": wanted})}
    seen = await _present(conn, table.c.event_id, wanted)
    fresh = [event_id for event_id in wanted if event_id not in seen]
    if fresh:
        await conn.execute(table.insert(), [{"event_id": event_id} for event_id in fresh])
    return set(fresh)


def first_of_each(events: Sequence[Any], fresh: set[str]) -> list[Any]:
    """The events whose id `claim_unapplied` returned, in order, each id once (the log may hold
    an event twice, and a batch may carry both copies)."""
    left = set(fresh)
    todo = []
    for event in events:
        event_id = str(event.event_id)
        if event_id in left:
            left.discard(event_id)
            todo.append(event)
    return todo


async def mark_applied(conn: AsyncConnection, projection: str, event_ids: Iterable[str]) -> None:
    rows = [{"projection": projection, "event_id": event_id} for event_id in event_ids]
    if rows:
        await conn.execute(applied_events.insert(), rows)


async def store_offsets(conn: AsyncConnection, projection: str, next_offsets: Mapping[Position, int]) -> None:
    """Upserts the next offset to read per partition: one statement whatever the partitions
    (a live batch spans several, and each round trip holds the batch back)."""
    if not next_offsets:
        return
    now = datetime.now(UTC)
    await conn.execute(
        upsert_statement(projection_offsets, conn.dialect.name),
        [
            {"projection": projection, "topic": topic, "partition": partition, "next_offset": offset, "updated_at": now}
            for (topic, partition), offset in next_offsets.items()
        ],
    )


async def load_offsets(conn: AsyncConnection, projection: str) -> dict[Position, int]:
    rows = await conn.execute(
        select(projection_offsets.c.topic, projection_offsets.c.partition, projection_offsets.c.next_offset).where(
            projection_offsets.c.projection == projection
        )
    )
    return {(topic, partition): offset for topic, partition, offset in rows}


async def forget(conn: AsyncConnection, projection: str) -> None:
    """Drops a projection's tracking, before a rebuild replays it from offset 0."""
    await conn.execute(delete(applied_events).where(applied_events.c.projection == projection))
    await conn.execute(delete(projection_offsets).where(projection_offsets.c.projection == projection))

"""The callback tables: writes inside a caller's transaction (with the tracking rows), and the
reads the decisions, the timers and the pages need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import Event
from services.projector.callbacks.decide import OpenCallback, Pending
from services.projector.callbacks.fold import CallbackRow, apply
from services.projector.callbacks.tables import callback_pending, callback_reached, callbacks

ROW_FIELDS = tuple(f.name for f in fields(CallbackRow))
TIMES = ("missed_at", "opened_at", "last_attempt_at", "overdue_at", "closed_at")


def utc(value: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite hands them back without a zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def row_of(mapping) -> CallbackRow:  # type: ignore[no-untyped-def]
    values = {name: mapping[name] for name in ROW_FIELDS}
    return CallbackRow(**{**values, **{name: utc(values[name]) for name in TIMES}})


# ---- the queue (projection) ---------------------------------------------------------------------


async def load_row(conn: AsyncConnection, callback_id: str) -> CallbackRow | None:
    found = (await conn.execute(select(callbacks).where(callbacks.c.callback_id == callback_id))).mappings().first()
    return row_of(found) if found else None


async def write_row(conn: AsyncConnection, row: CallbackRow) -> None:
    values = {**asdict(row), "status": row.status}
    result = await conn.execute(update(callbacks).where(callbacks.c.callback_id == row.callback_id).values(**values))
    if result.rowcount == 0:
        await conn.execute(insert(callbacks).values(**values))


async def apply_events(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Folds events (not applied before: the caller checks the tracking) into their rows."""
    for event in events:
        await write_row(conn, apply(await load_row(conn, event.payload.callback_id), event))


async def drop_view(conn: AsyncConnection) -> None:
    await conn.execute(delete(callbacks))


def as_open(row: CallbackRow) -> OpenCallback:
    return OpenCallback(callback_id=row.callback_id, phone=row.phone, missed_at=row.missed_at,
                        customer_id=row.customer_id, correlation_id=row.correlation_id)


async def open_callback_for(conn: AsyncConnection, phone: str) -> OpenCallback | None:
    """The number's open callback (the oldest, should there ever be two)."""
    found = (await conn.execute(select(callbacks).where(callbacks.c.phone == phone, callbacks.c.status == "open")
                                .order_by(callbacks.c.missed_at, callbacks.c.callback_id).limit(1))).mappings().first()
    return as_open(row_of(found)) if found else None


async def open_callback(conn: AsyncConnection, callback_id: str) -> OpenCallback | None:
    row = await load_row(conn, callback_id)
    return as_open(row) if row is not None and row.status == "open" else None


async def rows(conn: AsyncConnection, status: str | None = "open", phone: str | None = None,
               limit: int = 1000) -> list[CallbackRow]:
    query = select(callbacks)
    if status:
        query = query.where(callbacks.c.status == status)
    if phone:
        query = query.where(callbacks.c.phone == phone)
    found = await conn.execute(query.order_by(callbacks.c.missed_at).limit(limit))
    return [row_of(m) for m in found.mappings()]


async def waiting_for_escalation(conn: AsyncConnection) -> list[CallbackRow]:
    found = await conn.execute(select(callbacks).where(callbacks.c.status == "open", callbacks.c.overdue_at.is_(None),
                                                       callbacks.c.missed_at.is_not(None)))
    return [row_of(m) for m in found.mappings()]


# ---- what the decisions remember ----------------------------------------------------------------


async def reached_at(conn: AsyncConnection, phone: str) -> datetime | None:
    return utc(await conn.scalar(select(callback_reached.c.reached_at).where(callback_reached.c.phone == phone)))


async def record_reached(conn: AsyncConnection, phone: str, at: datetime) -> None:
    """Keeps the latest time the number and we spoke; its missed calls up to then are settled."""
    before = await reached_at(conn, phone)
    if before is None:
        await conn.execute(insert(callback_reached).values(phone=phone, reached_at=utc(at)))
    elif at > before:
        await conn.execute(update(callback_reached).where(callback_reached.c.phone == phone).values(reached_at=utc(at)))
    await conn.execute(delete(callback_pending).where(callback_pending.c.phone == phone,
                                                      callback_pending.c.missed_at <= utc(at)))


async def add_pending(conn: AsyncConnection, pending: Pending) -> None:
    key = (callback_pending.c.provider == pending.provider, callback_pending.c.call_id == pending.call_id)
    if (await conn.execute(select(callback_pending.c.call_id).where(*key))).first() is None:
        values = {**asdict(pending), "missed_at": utc(pending.missed_at), "due_at": utc(pending.due_at)}
        await conn.execute(insert(callback_pending).values(**values))


async def due_pending(conn: AsyncConnection, now: datetime, limit: int = 500) -> list[Pending]:
    found = await conn.execute(select(callback_pending).where(callback_pending.c.due_at <= utc(now))
                               .order_by(callback_pending.c.due_at, callback_pending.c.call_id).limit(limit))
    return [Pending(**{**m, "missed_at": utc(m["missed_at"]), "due_at": utc(m["due_at"])}) for m in found.mappings()]


async def drop_pending(conn: AsyncConnection, pending: Pending) -> None:
    await conn.execute(delete(callback_pending).where(callback_pending.c.provider == pending.provider,
                                                      callback_pending.c.call_id == pending.call_id))

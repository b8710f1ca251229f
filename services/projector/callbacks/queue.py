"""The callback queue for people, shared by the pages and the JSON API: queries that take a
connection, and the agent's close command that takes a publisher. Ports come in as arguments.

The queue is ordered by waiting business time (the `[callbacks] calendar`): a call missed on
Friday evening has not waited longer than one missed on Monday morning at 9:30."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import Event
from services.projector.api import queries
from services.projector.callbacks import store
from services.projector.callbacks.decide import close_by_agent
from services.projector.callbacks.fold import CallbackRow
from services.projector.callbacks.rules import CallbackRules
from services.projector.timeline.rows import contact_id_for
from shared.kafka.publisher import Publisher


class CallbackNotFound(Exception):
    pass


def waited(row: CallbackRow, rules: CallbackRules, now: datetime) -> tuple[float, float]:
    """(business seconds, wall-clock seconds) from the first missed call to closing or now."""
    if row.missed_at is None:
        return 0.0, 0.0
    end = row.closed_at or now
    return rules.calendar.business_seconds(row.missed_at, end), max(0.0, (end - row.missed_at).total_seconds())


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def entry(row: CallbackRow, rules: CallbackRules, now: datetime, customer: dict[str, Any] | None) -> dict[str, Any]:
    business, wall = waited(row, rules, now)
    return {
        "callback_id": row.callback_id, "status": row.status, "phone": row.phone, "customer": customer,
        "attempts": row.attempts, "missed_at": iso(row.missed_at), "last_attempt_at": iso(row.last_attempt_at),
        "waited_business_seconds": round(business), "waited_seconds": round(wall), "overdue": row.overdue_at is not None,
        "queue": row.queue, "disposition": row.disposition, "calendar": rules.calendar.name,
        "closed_at": iso(row.closed_at), "close_reason": row.close_reason, "closed_by": row.closed_by,
        "close_note": row.close_note,
    }


async def customer_of(conn: AsyncConnection, phone: str) -> dict[str, Any] | None:
    """The customer behind the number (read now, so a number linked later shows its customer),
    else its unmatched contact if the timeline knows it, else None."""
    found = await queries.identity(conn, "phone", phone)
    if found is not None and found.customer_id:
        row = await queries.customer(conn, found.customer_id)
        if row is not None:
            return {"id": row.id, "name": row.name, "customer_ref": row.customer_ref, "link": f"/customers/{row.id}"}
    contact = await queries.customer(conn, contact_id_for(("phone", phone)))
    if contact is not None:
        return {"id": contact.id, "name": None, "customer_ref": None, "link": f"/customers/{contact.id}"}
    return None


async def queue(conn: AsyncConnection, rules: CallbackRules, now: datetime, status: str | None = "open",
                phones: Sequence[str] = (), limit: int = 500) -> list[dict[str, Any]]:
    """Callbacks, longest waiting (business time) first."""
    rows: list[CallbackRow] = []
    for phone in phones or (None,):
        rows += await store.rows(conn, status, phone, limit)
    entries = [entry(row, rules, now, await customer_of(conn, row.phone)) for row in rows]
    entries.sort(key=lambda e: (-e["waited_business_seconds"], e["missed_at"] or "", e["callback_id"]))
    return entries[:limit]


async def close(conn: AsyncConnection, publisher: Publisher, callback_id: str, user: str, note: str,
                now: datetime) -> Event:
    """Records an agent's closing; returns after Kafka acknowledged it. The processor applies it.
    Raises CallbackNotFound, or CallbackNotOpen when it was closed already."""
    row = await store.load_row(conn, callback_id)
    if row is None:
        raise CallbackNotFound(callback_id)
    [event] = close_by_agent(store.as_open(row) if row.status == "open" else None, user, note, now)
    await publisher.publish([event])
    return event

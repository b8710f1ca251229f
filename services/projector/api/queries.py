"""Read queries of the agent API over the timeline read model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.projector.timeline.rows import CustomerRow, IdentityRow, contact_id_for, utc
from services.projector.timeline.store import customer_from_row
from services.projector.timeline.tables import TIMELINE

T = TIMELINE


async def customer(conn: AsyncConnection, customer_id: str) -> CustomerRow | None:
    row = (await conn.execute(select(T.customers).where(T.customers.c.id == customer_id))).first()
    return customer_from_row(row._mapping) if row else None


def customer_row(row: Any) -> CustomerRow:
    return customer_from_row(row._mapping)


async def customers(conn: AsyncConnection, ids: list[str]) -> list[CustomerRow]:
    if not ids:
        return []
    rows = await conn.execute(select(T.customers).where(T.customers.c.id.in_(ids)).order_by(T.customers.c.name))
    return [customer_from_row(row._mapping) for row in rows]


async def identity(conn: AsyncConnection, kind: str, value: str) -> IdentityRow | None:
    t = T.identities
    row = (await conn.execute(select(t.c.kind, t.c.value, t.c.claimants).where(t.c.kind == kind, t.c.value == value))).first()
    return IdentityRow(row.kind, row.value, tuple(row.claimants)) if row else None


async def search(conn: AsyncConnection, q: str, identifiers: list[tuple[str, str]], limit: int) -> list[CustomerRow]:
    """Customers whose name contains `q` or whose customer_ref is `q`, plus whoever owns one
    of the given (normalised) identifiers: its customers, or its unmatched contact."""
    ids: list[str] = []
    for kind, value in identifiers:
        found = await identity(conn, kind, value)
        if found is not None:
            ids += list(found.claimants)
        if found is None or found.customer_id is None:
            ids.append(contact_id_for((kind, value)))
    c = T.customers
    pattern = f"%{q.lower().replace('%', '').replace('_', '')}%"
    rows = await conn.execute(
        select(c).where(or_(
            and_(c.c.kind == "customer", or_(func.lower(c.c.name).like(pattern), c.c.customer_ref == q)),
            c.c.id.in_(ids or [""]),
        )).order_by(c.c.kind.desc(), c.c.name, c.c.id).limit(limit)
    )
    return [customer_from_row(row._mapping) for row in rows]


async def timeline_page(conn: AsyncConnection, owner_id: str, limit: int, channel: str | None,
                        before: tuple[datetime, str] | None) -> list[dict[str, Any]]:
    """Newest first by (occurred_at DESC, id). The keyset condition is written in the bounded
    form `occurred_at <= t AND (occurred_at < t OR id > last)`, which the (owner, occurred_at
    DESC, id) index serves as a range; the plain OR form makes PostgreSQL scan."""
    e = T.entries
    query = select(e).where(e.c.owner_id == owner_id)
    if channel:
        query = query.where(e.c.channel == channel)
    if before is not None:
        stamp, last_id = before
        query = query.where(e.c.occurred_at <= stamp, or_(e.c.occurred_at < stamp, e.c.id > last_id))
    rows = await conn.execute(query.order_by(e.c.occurred_at.desc(), e.c.id).limit(limit))
    return [entry_json(row._mapping) for row in rows]


def entry_json(m: Any) -> dict[str, Any]:
    return {
        "id": m["id"], "event_id": m["event_id"], "type": m["type"], "channel": m["channel"],
        "direction": m["direction"], "occurred_at": utc(m["occurred_at"]).isoformat(),
        "recorded_at": utc(m["recorded_at"]).isoformat(), "summary": m["summary"], "details": m["details"],
        "ambiguous": m["ambiguous"], "candidates": list(m["candidates"]),
    }


def customer_json(row: CustomerRow, hard_bounced: dict[str, datetime] | None = None) -> dict[str, Any]:
    """`hard_bounced`: the customer's addresses that failed for good, and when (see `hard_bounces`)."""
    found = {
        "id": row.id, "kind": row.kind, "name": row.name, "customer_ref": row.customer_ref,
        "emails": list(row.emails), "phones": list(row.phones), "order_refs": list(row.order_refs),
        "segment": row.segment, "language": row.language, "attributes": row.attributes,
    }
    if hard_bounced is not None:
        found["hard_bounced_emails"] = {email: at.isoformat() for email, at in sorted(hard_bounced.items())}
    return found


async def hard_bounces(conn: AsyncConnection, row: CustomerRow) -> dict[str, datetime]:
    """The customer's addresses that mail failed to reach for good, with the latest such bounce."""
    if not row.emails:
        return {}
    t = T.identities
    rows = await conn.execute(select(t.c.value, t.c.hard_bounced_at).where(
        t.c.kind == "email", t.c.value.in_(row.emails), t.c.hard_bounced_at.isnot(None)))
    return {value: utc(at) for value, at in rows}

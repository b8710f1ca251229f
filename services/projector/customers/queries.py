"""Read side: search, screen-pop lookup, and a customer's profile with the identifiers it
claims and the records merged into it. A record merged into another is shown as that one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.projector.api import queries
from services.projector.complaints.tables import complaints
from services.projector.timeline.rows import CustomerRow, Identifier, contact_id_for, customer_id_for
from services.projector.timeline.tables import TIMELINE
from shared.contacts import normalise_email, normalise_phone

T = TIMELINE


def identifiers_in(q: str, region: str | None) -> list[Identifier]:
    """What a search text may be: an address, a phone number, an order or a parcel."""
    found = [(k, v) for k, v in (("email", normalise_email(q)), ("phone", normalise_phone(q, region))) if v]
    return [*found, ("order_ref", q), ("tracking_number", q)]


async def search(conn: AsyncConnection, q: str, region: str | None, limit: int) -> list[CustomerRow]:
    """Customers by name, customer_ref or identifier; a merged record stands for the record it
    was merged into (each shown once)."""
    q = q.strip()
    rows = await queries.search(conn, q, identifiers_in(q, region), limit)
    shown: dict[str, CustomerRow] = {}
    for row in rows:
        target = await effective(conn, row)
        shown.setdefault(target.id, target)
    return list(shown.values())


async def effective(conn: AsyncConnection, row: CustomerRow) -> CustomerRow:
    """The record whose timeline shows this one's history: itself, or where it was merged to."""
    seen = {row.id}
    while row.merged_into and row.merged_into not in seen:
        target = await queries.customer(conn, row.merged_into)
        if target is None:
            break
        seen.add(target.id)
        row = target
    return row


async def by_ref(conn: AsyncConnection, customer_ref: str) -> CustomerRow | None:
    found = await queries.customer(conn, customer_id_for(customer_ref.strip())) if customer_ref.strip() else None
    return found if found is not None and found.kind == "customer" else None


@dataclass(frozen=True)
class Lookup:
    match: str  # customer | contact | ambiguous | none
    customer: CustomerRow | None = None
    candidates: list[CustomerRow] = field(default_factory=list)


async def lookup(conn: AsyncConnection, kind: str, value: str) -> Lookup:
    """Who is behind an identifier (the screen pop): its customer, else its unmatched contact
    and the customers that claim it together."""
    identity = await queries.identity(conn, kind, value)
    claimants = [await effective(conn, c) for c in await queries.customers(conn, list(identity.claimants))] if identity else []
    owners = {c.id: c for c in claimants}
    if len(owners) == 1:
        return Lookup("customer", next(iter(owners.values())))
    contact = await queries.customer(conn, contact_id_for((kind, value)))
    candidates = sorted(owners.values(), key=lambda c: (c.name or "", c.id))
    if candidates:
        return Lookup("ambiguous", contact, candidates)
    return Lookup("contact", contact) if contact else Lookup("none")


async def claimed(conn: AsyncConnection, customer_id: str) -> list[dict[str, Any]]:
    """The identifiers a customer claims (master data and links), with whoever claims them too."""
    t = T.identities
    rows = list(await conn.execute(select(t.c.kind, t.c.value, t.c.claimants).where(t.c.customer_id == customer_id)))
    shared = await conn.execute(select(t.c.kind, t.c.value, t.c.claimants).where(t.c.ambiguous.is_(True)))
    rows += [row for row in shared if customer_id in row.claimants]
    found = [{"kind": kind, "value": value, "shared_with": sorted(set(claimants) - {customer_id})}
             for kind, value, claimants in rows]
    return sorted(found, key=lambda i: (i["kind"], i["value"]))


async def members(conn: AsyncConnection, customer_id: str) -> list[CustomerRow]:
    """The records merged into this one, directly or through others, oldest merge first."""
    c = T.customers
    found: list[CustomerRow] = []
    todo = [customer_id]
    while todo:
        rows = await conn.execute(select(c).where(c.c.merged_into.in_(todo)))
        fresh = [r for r in map(queries.customer_row, rows) if r.id not in {f.id for f in found} and r.id != customer_id]
        found += fresh
        todo = [r.id for r in fresh]
    return sorted(found, key=lambda r: (r.merged_at or datetime.min, r.id))


async def profile(conn: AsyncConnection, row: CustomerRow) -> dict[str, Any]:
    """The customer as the API answers it: master data, hard bounces, claimed identifiers,
    the records merged into it (each with its own identifiers) and where it was merged to."""
    found = queries.customer_json(row, await queries.hard_bounces(conn, row))
    found["identifiers"] = await claimed(conn, row.id)
    found["merged"] = [{**queries.customer_json(m), "merged_at": m.merged_at.isoformat() if m.merged_at else None,
                        "merged_by": m.merged_by, "merged_into": m.merged_into,
                        "identifiers": await claimed(conn, m.id)} for m in await members(conn, row.id)]
    found["merged_into"] = None
    if row.merged_into:
        target = await effective(conn, row)
        found["merged_into"] = {"id": target.id, "name": target.name, "customer_ref": target.customer_ref,
                                "merged_at": row.merged_at.isoformat() if row.merged_at else None, "merged_by": row.merged_by}
    return found


async def merge_candidates(conn: AsyncConnection, row: CustomerRow, q: str, region: str | None) -> list[CustomerRow]:
    """Records that may be merged into this one: other customers, not merged anywhere."""
    if not q.strip():
        return []
    found = await queries.search(conn, q.strip(), identifiers_in(q.strip(), region), 20)
    return [c for c in found if c.kind == "customer" and c.id != row.id and c.merged_into is None]


async def open_complaints_of(conn: AsyncConnection, records: list[CustomerRow]) -> list[dict[str, Any]]:
    """Complaints not yet resolved that belong to these records (by id, customer number,
    address or number): what a merge brings onto the merged page."""
    c = complaints
    if not records:
        return []
    conditions = [c.c.customer_id.in_([r.id for r in records]),
                  c.c.customer_ref.in_([r.customer_ref for r in records if r.customer_ref])]
    emails = [e for r in records for e in r.emails]
    phones = [p for r in records for p in r.phones]
    if emails:
        conditions.append(c.c.email.in_(emails))
    if phones:
        conditions.append(c.c.phone.in_(phones))
    found = await conn.execute(select(c.c.complaint_id, c.c.subject, c.c.status, c.c.state, c.c.opened_at)
                               .where(c.c.status != "resolved", or_(*conditions)).order_by(c.c.opened_at))
    return [dict(row._mapping) for row in found]

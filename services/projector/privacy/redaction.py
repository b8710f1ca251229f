"""What the read models keep of an erased subject (`customer.erased`).

Timeline: every entry (and each of its past states kept for as-of reads) stays with its channel, direction, type and times, its summary reads
"erased" and its details and personal identifiers are gone; the customer row keeps its
business reference and segment, and loses name, addresses, numbers and attributes; the
identities of the erased addresses and numbers are deleted. Complaints keep their SLA figures
(due times, states, outcomes) and lose subject, address and number.

Redaction runs inside the writer's transaction, in log order with the other events, so a
rebuild redacts exactly as the live projection did."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.privacy import CustomerErased
from services.projector.timeline.rows import contact_id_for
from services.projector.timeline.tables import TimelineTables

ERASED_SUMMARY = "erased"
PERSONAL_IDENTIFIER_KINDS = ("email", "phone")


async def redact_timeline(conn: AsyncConnection, tables: TimelineTables, event: CustomerErased) -> None:
    ids = list(event.payload.timeline_ids)
    if not ids:
        return
    customers, identities, entries = tables.customers, tables.identities, tables.entries
    rows = (await conn.execute(sa.select(customers.c.emails, customers.c.phones).where(customers.c.id.in_(ids)))).all()
    erased = {("email", value) for row in rows for value in row.emails or ()}
    erased |= {("phone", value) for row in rows for value in row.phones or ()}
    owned = (await conn.execute(sa.select(identities.c.kind, identities.c.value).where(
        identities.c.customer_id.in_(ids), identities.c.kind.in_(PERSONAL_IDENTIFIER_KINDS)))).all()
    erased |= {(row.kind, row.value) for row in owned}
    await conn.execute(customers.update().where(customers.c.id.in_(ids)).values(
        name=ERASED_SUMMARY, emails=[], phones=[], attributes={}))
    for kind, value in erased:
        await conn.execute(identities.delete().where(identities.c.kind == kind, identities.c.value == value))
    for table in (entries, tables.versions):  # the past states kept for as-of reads too
        carrying = sa.or_(table.c.owner_id.in_(ids), table.c.contact_id.in_(ids),
                          *[table.c[kind] == value for kind, value in erased])
        await conn.execute(table.update().where(carrying).values(
            summary=ERASED_SUMMARY, details={"erased": True}, email=None, phone=None))


def erased_contact_ids(emails_and_phones: Iterable[tuple[str, str]]) -> set[str]:
    return {contact_id_for(identifier) for identifier in emails_and_phones}

"""Customer segments for SLA policies, kept from customer master data: which segment the
customer behind an email address, phone number or customer reference belongs to."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.customer import ContactLinked, ContactUnlinked, CustomerRegistered
from events.envelope import Event
from services.projector.complaints.tables import customer_segments


def identifiers_of(event: CustomerRegistered) -> list[str]:
    payload = event.payload
    return [f"customer_ref:{payload.customer_ref}", *(f"email:{e}" for e in payload.emails),
            *(f"phone:{p}" for p in payload.phones)]


async def apply_customer_event(conn: AsyncConnection, event: Event) -> None:
    match event:
        case CustomerRegistered():
            ref, segment = event.payload.customer_ref, event.payload.segment
            await conn.execute(update(customer_segments).where(customer_segments.c.customer_ref == ref).values(segment=segment))
            for identifier in identifiers_of(event):
                await _put(conn, identifier, ref, segment)
        case ContactLinked():
            ref = event.payload.customer_ref
            segment = await conn.scalar(select(customer_segments.c.segment).where(
                customer_segments.c.identifier == f"customer_ref:{ref}"))
            identifier = event.payload.identifier
            await _put(conn, f"{identifier.kind}:{identifier.value}", ref, segment)
        case ContactUnlinked():
            identifier = event.payload.identifier
            await conn.execute(delete(customer_segments).where(
                customer_segments.c.identifier == f"{identifier.kind}:{identifier.value}",
                customer_segments.c.customer_ref == event.payload.customer_ref))


async def _put(conn: AsyncConnection, identifier: str, customer_ref: str, segment: str | None) -> None:
    await conn.execute(delete(customer_segments).where(customer_segments.c.identifier == identifier))
    await conn.execute(insert(customer_segments).values(identifier=identifier, customer_ref=customer_ref, segment=segment))


async def segment_for(conn: AsyncConnection, event: Event) -> str | None:
    """The segment of the customer behind the event's contact, most specific identifier first."""
    contact = event.contact
    for identifier in (f"customer_ref:{contact.customer_ref}" if contact.customer_ref else None,
                       f"email:{contact.email}" if contact.email else None,
                       f"phone:{contact.phone}" if contact.phone else None):
        if identifier is None:
            continue
        found = (await conn.execute(select(customer_segments.c.segment).where(customer_segments.c.identifier == identifier))).first()
        if found is not None:
            return found[0]
    return None

"""Complaints of an erased subject keep their SLA figures (due times, states, outcomes, for
reporting) and lose what identifies the person: subject line, address, number; the segment
lookup rows of the erased addresses and numbers are deleted."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.privacy import CustomerErased
from services.projector.complaints.tables import complaints, customer_segments
from services.projector.privacy.redaction import ERASED_SUMMARY
from services.projector.timeline.rows import contact_id_for, customer_id_for


async def redact_complaints(conn: AsyncConnection, event: CustomerErased) -> None:
    ids = set(event.payload.timeline_ids)
    ref = event.payload.customer_ref
    rows = (await conn.execute(sa.select(complaints.c.complaint_id, complaints.c.customer_id, complaints.c.email,
                                         complaints.c.phone, complaints.c.customer_ref))).all()
    doomed = [row.complaint_id for row in rows if _belongs(row, ids, ref)]
    for chunk in range(0, len(doomed), 500):
        await conn.execute(complaints.update().where(complaints.c.complaint_id.in_(doomed[chunk:chunk + 500])).values(
            email=None, phone=None, subject=ERASED_SUMMARY))
    segments = (await conn.execute(sa.select(customer_segments.c.identifier, customer_segments.c.customer_ref))).all()
    for row in segments:
        kind, _, value = row.identifier.partition(":")
        if kind in ("email", "phone") and (row.customer_ref == ref or contact_id_for((kind, value)) in ids):
            await conn.execute(customer_segments.delete().where(customer_segments.c.identifier == row.identifier))


def _belongs(row, ids: set[str], ref: str | None) -> bool:  # type: ignore[no-untyped-def]
    if ref is not None and (row.customer_ref == ref or row.customer_id == customer_id_for(ref)):
        return True
    if row.customer_id in ids:
        return True
    return any(value and contact_id_for((kind, value)) in ids for kind, value in (("email", row.email), ("phone", row.phone)))

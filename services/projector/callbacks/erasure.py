"""What the callback queue keeps of an erased subject (`customer.erased`): the callbacks stay
for the figures (when opened, how long they waited, how they were closed) with the number
replaced by "erased" and the outcome note dropped; the missed calls still in their grace time
and the record of when a number last reached us are deleted."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.privacy import CustomerErased
from services.projector.callbacks.tables import callback_pending, callback_reached, callbacks
from services.projector.timeline.rows import contact_id_for

ERASED = "erased"


async def redact_callbacks(conn: AsyncConnection, event: CustomerErased) -> None:
    ids = set(event.payload.timeline_ids)  # the customer's id and the contact ids of its numbers
    phones: set[str] = set()
    for table in (callbacks, callback_pending, callback_reached):
        phones |= {row.phone for row in await conn.execute(sa.select(table.c.phone).distinct())}
    doomed = [phone for phone in phones if phone != ERASED and contact_id_for(("phone", phone)) in ids]
    await conn.execute(callback_reached.delete().where(callback_reached.c.phone.in_(doomed)))
    await conn.execute(callback_pending.delete().where(
        sa.or_(callback_pending.c.phone.in_(doomed), callback_pending.c.customer_id.in_(ids))))
    await conn.execute(callbacks.update().where(
        sa.or_(callbacks.c.phone.in_(doomed), callbacks.c.customer_id.in_(ids))).values(phone=ERASED, close_note=None))

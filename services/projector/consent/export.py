"""`consents.json` of a customer's export (Art. 15): its consent per purpose and every statement
recorded, as the consent read model holds them (erased personal data stays erased)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.api import queries as rows
from services.projector.consent.queries import consents_of
from services.projector.timeline.rows import customer_id_for


async def consents_json(engine: AsyncEngine, customer_ref: str, purposes: Sequence[str]) -> bytes:
    async with engine.connect() as conn:
        owner = await rows.customer(conn, customer_id_for(customer_ref))
        found = await consents_of(conn, owner, purposes) if owner is not None else {"purposes": [], "history": []}
    return orjson.dumps({"customer_ref": customer_ref, **found}, option=orjson.OPT_INDENT_2)

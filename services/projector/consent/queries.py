"""Read side: a customer's (or contact's) consent per purpose and its history, for the customer
page, the API and the export.

A customer's statements are those recorded on its record, on the records merged into it and
on its addresses and numbers (a form sent with an address that is linked to the customer
later counts at once). Per purpose the newest statement among them is the current one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.projector.consent.tables import consent_history, consent_states
from services.projector.customers.queries import members
from services.projector.timeline.rows import CustomerRow, contact_id_for, utc
from services.projector.timeline.tables import TIMELINE

PERSONAL_KINDS = ("email", "phone")


async def subject_ids(conn: AsyncConnection, owner: CustomerRow) -> list[str]:
    records = [owner, *(await members(conn, owner.id) if owner.kind == "customer" else [])]
    ids = {record.id for record in records}
    for record in records:
        ids |= {contact_id_for(identifier) for identifier in record.identifiers() if identifier[0] in PERSONAL_KINDS}
    identities = TIMELINE.identities
    claimed = await conn.execute(sa.select(identities.c.kind, identities.c.value).where(
        identities.c.customer_id.in_([record.id for record in records]), identities.c.kind.in_(PERSONAL_KINDS)))
    ids |= {contact_id_for((row.kind, row.value)) for row in claimed}
    return sorted(ids)


def statement_json(row: Any) -> dict[str, Any]:
    how: dict[str, Any] = {"kind": row.source_kind}
    if row.source_kind == "webform":
        how |= {"form_id": row.form_id, "field": row.field, "text_version": row.text_version,
                "submission_id": row.submission_id}
    else:
        how |= {"actor": row.actor, "note": row.note}
    return {"event_id": row.event_id, "purpose": row.purpose, "state": row.state,
            "occurred_at": utc(row.occurred_at).isoformat(), "recorded_at": utc(row.recorded_at).isoformat(),
            "channel": row.channel, "source": how,
            "subject": {"customer_ref": row.customer_ref, "email": row.email, "phone": row.phone}}


async def consents_of(conn: AsyncConnection, owner: CustomerRow, purposes: Sequence[str]) -> dict[str, Any]:
    """`{"purposes": [{purpose, state (given | withdrawn | unknown), current}], "history": [...]}`,
    the configured purposes first, then any others the log holds; history newest first."""
    ids = await subject_ids(conn, owner)
    states = (await conn.execute(sa.select(consent_states).where(consent_states.c.subject_id.in_(ids)))).all()
    newest: dict[str, Any] = {}
    for row in states:
        held = newest.get(row.purpose)
        if held is None or (utc(row.occurred_at), row.event_id) > (utc(held.occurred_at), held.event_id):
            newest[row.purpose] = row
    history = (await conn.execute(sa.select(consent_history).where(consent_history.c.subject_id.in_(ids))
                                  .order_by(consent_history.c.occurred_at.desc(), consent_history.c.event_id.desc()))).all()
    names = [*purposes, *sorted(p for p in newest if p not in purposes)]
    return {
        "purposes": [{"purpose": name, "state": newest[name].state if name in newest else "unknown",
                      "current": statement_json(newest[name]) if name in newest else None} for name in names],
        "history": [statement_json(row) for row in history],
    }


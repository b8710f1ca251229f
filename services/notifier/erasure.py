"""What the notifier keeps of an erased subject (`customer.erased`): nothing personal. The
customer's name and address, the contact keys (`email:...`, `phone:...`) of its addresses and
numbers, their inbound counters, bounce marks and consent statements are deleted; complaint facts keep their SLA
data and lose subject, name and address; bodies of notifications already delivered about
those complaints keep their shape with the personal values replaced (pending ones are still
sent, naming no one).

On `privacy.expired` the complaints opened in the expired class and year lose the same fields
and their address keys, as the complaints view does (`services/projector/privacy/complaint_redaction.py`)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.privacy import CustomerErased, PrivacyExpired
from services.notifier import tables as t
from services.projector.privacy.complaint_redaction import around_year, opened_by
from services.projector.timeline.rows import contact_id_for

ERASED = "erased"
PERSONAL_KINDS = ("email", "phone")
PERSONAL_KEYS = frozenset({"subject", "customer_name", "customer_email", "email", "phone", "name", "summary", "detail",
                           "contact_label"})


def _erased_key(key: str, ids: set[str], keys_of_customer: set[str]) -> bool:
    kind, _, value = key.partition(":")
    return kind in ("email", "phone") and (key in keys_of_customer or contact_id_for((kind, value)) in ids)


async def redact_notifier(conn: AsyncConnection, event: CustomerErased) -> None:
    ids, ref = set(event.payload.timeline_ids), event.payload.customer_ref
    linked = set()
    if ref is not None:
        linked = {row.key for row in await conn.execute(
            sa.select(t.contact_keys.c.key).where(t.contact_keys.c.customer_ref == ref))}
        await conn.execute(t.customers.update().where(t.customers.c.customer_ref == ref).values(name=None, email=None))
    for table, column in ((t.contact_keys, "key"), (t.complaint_keys, "key"), (t.inbound, "identity"),
                          (t.consents, "key")):
        keys = {row[0] for row in await conn.execute(sa.select(table.c[column]).distinct())}
        doomed = [key for key in keys if _erased_key(key, ids, linked)]
        if table is t.complaint_keys and doomed:
            await _redact_complaints(conn, doomed, ref)
        if doomed:
            await conn.execute(table.delete().where(table.c[column].in_(doomed)))
    addresses = [row.address for row in await conn.execute(sa.select(t.undeliverable.c.address))]
    gone = [a for a in addresses if contact_id_for(("email", a)) in ids or f"email:{a}" in linked]
    if gone:
        await conn.execute(t.undeliverable.delete().where(t.undeliverable.c.address.in_(gone)))


async def _redact_complaints(conn: AsyncConnection, keys: list[str], ref: str | None) -> None:
    complaint_ids = {row.complaint_id for row in await conn.execute(
        sa.select(t.complaint_keys.c.complaint_id).where(t.complaint_keys.c.key.in_(keys)))}
    if ref is not None:
        complaint_ids |= {row.complaint_id for row in await conn.execute(
            sa.select(t.complaint_keys.c.complaint_id).where(t.complaint_keys.c.key == f"customer_ref:{ref}"))}
    await _scrub_complaints(conn, complaint_ids)


async def expire_notifier(conn: AsyncConnection, event: PrivacyExpired) -> None:
    p = event.payload
    rows = await conn.execute(sa.select(t.complaints.c.complaint_id, t.complaints.c.facts, t.complaints.c.opened_at)
                              .where(around_year(t.complaints.c.opened_at, p.year)))
    expired = {row.complaint_id for row in rows
               if opened_by(json.loads(row.facts).get("origin"), row.opened_at, p.types, p.year)}
    if not expired:
        return
    await _scrub_complaints(conn, expired)
    personal = sa.or_(*(t.complaint_keys.c.key.startswith(f"{kind}:") for kind in PERSONAL_KINDS))
    await conn.execute(t.complaint_keys.delete().where(t.complaint_keys.c.complaint_id.in_(expired), personal))


async def _scrub_complaints(conn: AsyncConnection, complaint_ids: set[str]) -> None:
    for row in (await conn.execute(sa.select(t.complaints).where(t.complaints.c.complaint_id.in_(complaint_ids)))).all():
        facts = json.loads(row.facts)
        facts.update(subject=ERASED, customer_name=None, customer_email=None,
                     keys=_without_contact_keys(facts.get("keys", [])))
        await conn.execute(t.complaints.update().where(t.complaints.c.complaint_id == row.complaint_id).values(
            facts=json.dumps(facts)))
    rows = (await conn.execute(sa.select(t.notifications.c.notification_id, t.notifications.c.body).where(
        t.notifications.c.complaint_id.in_(complaint_ids)))).all()
    for row in rows:
        await conn.execute(t.notifications.update().where(
            t.notifications.c.notification_id == row.notification_id).values(body=json.dumps(_scrub(json.loads(row.body)))))


def _scrub(value: Any) -> Any:
    """The notification record with every personal value replaced, its shape kept."""
    if isinstance(value, dict):
        return {k: (_erased_like(v) if k in PERSONAL_KEYS else _without_contact_keys(v) if k == "keys" else _scrub(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _without_contact_keys(keys: Any) -> Any:
    if not isinstance(keys, list):
        return keys
    return [k for k in keys if not (isinstance(k, str) and k.partition(":")[0] in PERSONAL_KINDS)]


def _erased_like(value: Any) -> Any:
    if isinstance(value, str):
        return ERASED
    if isinstance(value, list):
        return []
    return None

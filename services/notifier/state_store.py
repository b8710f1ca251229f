"""Loads the `View` an event needs and applies `state.changes_for` results, inside the
caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import Event
from services.notifier import tables as t
from services.notifier.records import complaint_from_json, complaint_to_json
from services.notifier.state import (
    CancelUnsent,
    Change,
    ClearInbound,
    ComplaintFacts,
    CustomerFacts,
    LinkKey,
    MarkUndeliverable,
    RecordConsent,
    RecordInbound,
    SetComplaintStatus,
    UnlinkKey,
    UpsertComplaint,
    UpsertCustomer,
    View,
    event_keys,
)


async def load_view(conn: AsyncConnection, event: Event) -> View:
    keys = list(event_keys(event))
    customer = await _customer_for(conn, keys)
    if customer is not None:
        keys.append(f"customer_ref:{customer.customer_ref}")
    keys = list(dict.fromkeys(keys))
    complaint_id = event.payload_value("complaint_id")
    complaint = await load_complaint(conn, complaint_id) if complaint_id else None
    if complaint is not None and customer is None and complaint.keys:
        # the customer may have become known after the complaint was opened
        customer = await _customer_for(conn, complaint.keys)
    view = View(keys=tuple(keys), customer=customer, complaint=complaint)
    open_complaint = await _open_complaint(conn, keys)
    unanswered: tuple[datetime, ...] = ()
    if view.identity is not None:
        rows = await conn.execute(select(t.inbound.c.occurred_at).where(t.inbound.c.identity == view.identity))
        unanswered = tuple(sorted(t.utc(row[0]) for row in rows))
    return View(tuple(keys), customer, complaint, open_complaint, unanswered)


async def _customer_for(conn: AsyncConnection, keys: Sequence[str]) -> CustomerFacts | None:
    if not keys:
        return None
    refs = [k.removeprefix("customer_ref:") for k in keys if k.startswith("customer_ref:")]
    linked = await conn.execute(select(t.contact_keys.c.customer_ref).where(t.contact_keys.c.key.in_(keys)))
    refs += [row[0] for row in linked]
    for ref in refs:
        row = (await conn.execute(select(t.customers).where(t.customers.c.customer_ref == ref))).first()
        if row is not None:
            return CustomerFacts(row.customer_ref, row.name, row.segment, row.email, row.language)
    return None


async def load_complaint(conn: AsyncConnection, complaint_id: str) -> ComplaintFacts | None:
    row = (await conn.execute(select(t.complaints).where(t.complaints.c.complaint_id == complaint_id))).first()
    return complaint_from_json(row.facts) if row is not None else None


async def _open_complaint(conn: AsyncConnection, keys: Sequence[str]) -> ComplaintFacts | None:
    if not keys:
        return None
    row = (
        await conn.execute(
            select(t.complaints.c.facts)
            .join(t.complaint_keys, t.complaint_keys.c.complaint_id == t.complaints.c.complaint_id)
            .where(t.complaint_keys.c.key.in_(keys), t.complaints.c.status == "open")
            .order_by(t.complaints.c.opened_at.desc())
            .limit(1)
        )
    ).first()
    return complaint_from_json(row[0]) if row is not None else None


async def apply_changes(conn: AsyncConnection, changes: Sequence[Change], at: datetime) -> None:
    for change in changes:
        match change:
            case UpsertCustomer(customer=c, keys=keys):
                await conn.execute(delete(t.customers).where(t.customers.c.customer_ref == c.customer_ref))
                await conn.execute(
                    t.customers.insert().values(
                        customer_ref=c.customer_ref, name=c.name, segment=c.segment, email=c.email, language=c.language
                    )
                )
                for key in keys:
                    await _link(conn, key, c.customer_ref)
            case LinkKey(key=key, customer_ref=ref):
                await _link(conn, key, ref)
            case UnlinkKey(key=key, customer_ref=ref):
                await conn.execute(
                    delete(t.contact_keys).where(t.contact_keys.c.key == key, t.contact_keys.c.customer_ref == ref)
                )
            case UpsertComplaint(complaint=c):
                await _upsert_complaint(conn, c)
            case SetComplaintStatus():
                await _set_status(conn, change)
            case RecordInbound(identity=identity, event_id=event_id, at=occurred_at, forget_before=forget_before):
                if forget_before is not None:
                    await conn.execute(
                        delete(t.inbound).where(
                            t.inbound.c.identity == identity, t.inbound.c.occurred_at < t.utc(forget_before)
                        )
                    )
                await conn.execute(
                    t.inbound.insert().values(identity=identity, event_id=event_id, occurred_at=t.utc(occurred_at))
                )
            case ClearInbound(identity=identity):
                await conn.execute(delete(t.inbound).where(t.inbound.c.identity == identity))
            case CancelUnsent():
                await _cancel_unsent(conn, change, at)
            case MarkUndeliverable():
                await _mark_undeliverable(conn, change)
            case RecordConsent():
                await _record_consent(conn, change)


async def _record_consent(conn: AsyncConnection, change: RecordConsent) -> None:
    table = t.consents
    where = and_(table.c.key == change.key, table.c.purpose == change.purpose)
    found = (await conn.execute(select(table.c.occurred_at, table.c.event_id).where(where))).first()
    if found is not None and (t.utc(found.occurred_at), found.event_id) >= (t.utc(change.at), change.event_id):
        return  # a newer statement is held already: the latest counts, whatever the order
    await conn.execute(delete(table).where(where))
    await conn.execute(table.insert().values(key=change.key, purpose=change.purpose, state=change.state,
                                             occurred_at=t.utc(change.at), event_id=change.event_id))


async def consent_withdrawn(conn: AsyncConnection, keys: Sequence[str], purpose: str) -> tuple[str, datetime] | None:
    """(key, when) of the latest statement about any of `keys` for `purpose` when it is a
    withdrawal; None when the latest is consent, or there is none. The customer's addresses and
    numbers count with its customer reference."""
    refs = [k.removeprefix("customer_ref:") for k in keys if k.startswith("customer_ref:")]
    linked = (await conn.execute(select(t.contact_keys.c.key).where(t.contact_keys.c.customer_ref.in_(refs)))).all()
    wanted = list(dict.fromkeys([*keys, *(row.key for row in linked)]))
    rows = (await conn.execute(select(t.consents).where(t.consents.c.key.in_(wanted),
                                                        t.consents.c.purpose == purpose))).all()
    if not rows:
        return None
    latest = max(rows, key=lambda row: (t.utc(row.occurred_at), row.event_id))
    return (latest.key, t.utc(latest.occurred_at)) if latest.state == "withdrawn" else None


async def _mark_undeliverable(conn: AsyncConnection, change: MarkUndeliverable) -> None:
    table = t.undeliverable
    found = (await conn.execute(select(table.c.hard_bounced_at).where(table.c.address == change.address))).first()
    if found is None:
        await conn.execute(table.insert().values(
            address=change.address, hard_bounced_at=t.utc(change.at), event_id=change.event_id))
    elif t.utc(found[0]) < t.utc(change.at):  # the latest bounce counts, whatever the order
        await conn.execute(table.update().where(table.c.address == change.address).values(
            hard_bounced_at=t.utc(change.at), event_id=change.event_id))


async def undeliverable_since(conn: AsyncConnection, address: str) -> datetime | None:
    """When mail to `address` last failed for good, or None."""
    table = t.undeliverable
    found = (await conn.execute(select(table.c.hard_bounced_at).where(table.c.address == address.lower()))).first()
    return t.utc(found[0]) if found is not None else None


async def _link(conn: AsyncConnection, key: str, customer_ref: str) -> None:
    await conn.execute(delete(t.contact_keys).where(t.contact_keys.c.key == key))
    await conn.execute(t.contact_keys.insert().values(key=key, customer_ref=customer_ref))


async def _upsert_complaint(conn: AsyncConnection, facts: ComplaintFacts) -> None:
    await conn.execute(delete(t.complaints).where(t.complaints.c.complaint_id == facts.complaint_id))
    await conn.execute(delete(t.complaint_keys).where(t.complaint_keys.c.complaint_id == facts.complaint_id))
    await conn.execute(
        t.complaints.insert().values(
            complaint_id=facts.complaint_id,
            status=facts.status,
            facts=complaint_to_json(facts),
            opened_at=t.utc(facts.opened_at) if facts.opened_at else None,
        )
    )
    if facts.keys:
        await conn.execute(
            t.complaint_keys.insert(), [{"key": key, "complaint_id": facts.complaint_id} for key in facts.keys]
        )


async def _set_status(conn: AsyncConnection, change: SetComplaintStatus) -> None:
    facts = await load_complaint(conn, change.complaint_id)
    if facts is None:
        return  # opened before the notifier's history began: nothing to route on
    updated = replace(facts, status=change.status, priority=change.priority or facts.priority)
    await conn.execute(
        update(t.complaints)
        .where(t.complaints.c.complaint_id == change.complaint_id)
        .values(status=updated.status, facts=complaint_to_json(updated))
    )


async def _cancel_unsent(conn: AsyncConnection, change: CancelUnsent, at: datetime) -> None:
    condition = and_(
        t.notifications.c.complaint_id == change.complaint_id,
        t.notifications.c.status == "pending",
        t.notifications.c.next_attempt_at > t.utc(at),
        t.notifications.c.attempts == 0,
    )
    if change.clock_kinds is not None:
        condition = and_(condition, t.notifications.c.clock_kind.in_(change.clock_kinds))
    await conn.execute(
        update(t.notifications)
        .where(condition)
        .values(status="cancelled", last_error=change.reason, finished_at=t.utc(at))
    )

"""Reading and writing the timeline rows in the database (the projection's only I/O).

`load_view` fetches exactly the rows a batch of events will look at into a `MemoryView`;
`write_changes` upserts the changed rows in bulk. Both run inside the writer's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from events.call import CallAnswered, CallEnded, CallStarted
from events.customer import ContactLinked, ContactUnlinked, CustomerMerged, CustomerRegistered, CustomerUnmerged
from events.email import EmailReceived, EmailSent
from events.envelope import Event
from events.shipment import ShipmentStatusChanged
from services.projector.timeline.entries import call_key, shipment_key
from services.projector.timeline.rows import (
    IDENTIFIER_KINDS,
    CustomerRow,
    EntryRow,
    Identifier,
    IdentityRow,
    contact_id_for,
    customer_id_for,
    entry_id_for,
    utc,
)
from services.projector.timeline.tables import TimelineTables
from services.projector.timeline.view import MAIL_TYPES, Change, MemoryView, change_key
from shared.db.upsert import upsert_statement

CHUNK = 500


def event_identifiers(event: Event) -> list[Identifier]:
    return [(kind, getattr(event.contact, kind)) for kind in IDENTIFIER_KINDS if getattr(event.contact, kind)]


def folded_entry_id(event: Event) -> str | None:
    match event:
        case CallStarted() | CallAnswered() | CallEnded():
            return entry_id_for(call_key(event))
        case ShipmentStatusChanged():
            return entry_id_for(shipment_key(event))
    return None


async def load_view(conn: AsyncConnection, tables: TimelineTables, events: Sequence[Event]) -> MemoryView:
    view = MemoryView()
    customer_ids = {customer_id_for(e.payload.customer_ref) for e in events if isinstance(e, CustomerRegistered)}
    merging = {customer_id_for(e.payload.customer_ref) for e in events if isinstance(e, CustomerMerged | CustomerUnmerged)}
    customer_ids |= merging
    # unmatched contacts the batch's interactions may need (existing ones are not written again)
    customer_ids |= {contact_id_for(ids[0]) for ids in map(event_identifiers, events) if ids}
    view.record(await fetch_customers(conn, tables, customer_ids))
    identifiers: set[Identifier] = {i for e in events for i in event_identifiers(e)}
    moving: set[Identifier] = set()
    for event in events:
        match event:
            case CustomerRegistered(payload=p):
                moving |= {("customer_ref", p.customer_ref)} | {("email", v) for v in p.emails}
                moving |= {("phone", v) for v in p.phones} | {("order_ref", v) for v in p.order_refs}
                before = view.customer(customer_id_for(p.customer_ref))
                moving |= before.identifiers() if before else set()
            case ContactLinked(payload=p) | ContactUnlinked(payload=p):
                moving.add((p.identifier.kind, p.identifier.value))
    if merging:
        group = await fetch_merged_groups(conn, tables, merging)
        view.record(group)
        moving |= await fetch_claimed(conn, tables, {c.id for c in group} | merging)
    entry_ids = {i for i in (folded_entry_id(e) for e in events) if i}
    complaints = {c for c in (e.payload_value("complaint_id") for e in events) if c}
    entries = await fetch_entries(conn, tables, entry_ids, moving, complaints)
    entries += await fetch_mail_links(conn, tables, events)
    view.record(entries)
    identifiers |= moving | {i for entry in entries for i in entry.identifiers()}
    identities = await fetch_identities(conn, tables, identifiers)
    view.record(identities)
    # everyone who claims, or may claim in this batch, an identifier: merged records count as theirs
    claiming = {customer_id_for(e.payload.into_customer_ref) for e in events if isinstance(e, CustomerMerged | CustomerUnmerged)}
    claiming |= {customer_id_for(e.payload.customer_ref) for e in events if isinstance(e, CustomerRegistered | ContactLinked)}
    await follow_merges(conn, tables, {c for i in identities for c in i.claimants} | merging | claiming, view)
    return view


async def fetch_merged_groups(conn: AsyncConnection, tables: TimelineTables, ids: set[str]) -> list[CustomerRow]:
    """The records merged into these, directly or through others."""
    c = tables.customers
    found: dict[str, CustomerRow] = {}
    todo = set(ids)
    while todo:
        rows = []
        for condition in one_of(conn, c.c.merged_into, todo):
            rows += [customer_from_row(row._mapping) for row in await conn.execute(select(c).where(condition))]
        todo = {row.id for row in rows if row.id not in found and row.id not in ids}
        found |= {row.id: row for row in rows}
    return list(found.values())


async def fetch_claimed(conn: AsyncConnection, tables: TimelineTables, ids: set[str]) -> set[Identifier]:
    """The identifiers these customers claim, alone (indexed by customer_id) or with others."""
    t = tables.identities
    found: set[Identifier] = set()
    for condition in one_of(conn, t.c.customer_id, ids):
        found |= {(kind, value) for kind, value in await conn.execute(select(t.c.kind, t.c.value).where(condition))}
    shared = await conn.execute(select(t.c.kind, t.c.value, t.c.claimants).where(t.c.ambiguous.is_(True)))
    found |= {(kind, value) for kind, value, claimants in shared if ids & set(claimants)}
    return found


async def follow_merges(conn: AsyncConnection, tables: TimelineTables, ids: set[str], view: MemoryView) -> None:
    """Puts into the view the merged records among `ids` and the records they were merged into,
    along each chain: resolution follows them (see `identity.root`). Records not merged are
    not read."""
    c = tables.customers
    seen: set[str] = set()
    while ids:
        unknown = {i for i in ids if view.customer(i) is None}
        for condition in one_of(conn, c.c.id, unknown):
            rows = await conn.execute(select(c).where(condition, c.c.merged_into.isnot(None)))
            view.record(customer_from_row(row._mapping) for row in rows)
        seen |= ids
        ids = {row.merged_into for row in map(view.customer, ids) if row is not None and row.merged_into} - seen


async def fetch_customers(conn: AsyncConnection, tables: TimelineTables, ids: Iterable[str]) -> list[CustomerRow]:
    found: list[CustomerRow] = []
    for condition in one_of(conn, tables.customers.c.id, ids):
        rows = await conn.execute(select(tables.customers).where(condition))
        found += [customer_from_row(row._mapping) for row in rows]
    return found


async def fetch_identities(conn: AsyncConnection, tables: TimelineTables, identifiers: Iterable[Identifier]) -> list[IdentityRow]:
    t = tables.identities
    found: list[IdentityRow] = []
    for kind, values in by_kind(identifiers).items():
        for condition in one_of(conn, t.c.value, values):
            rows = await conn.execute(
                select(t.c.kind, t.c.value, t.c.claimants, t.c.hard_bounced_at).where(t.c.kind == kind, condition)
            )
            found += [IdentityRow(kind, value, tuple(claimants), utc(bounced) if bounced else None)
                      for kind, value, claimants, bounced in rows]
    return found


async def fetch_entries(conn: AsyncConnection, tables: TimelineTables, ids: set[str], carrying: set[Identifier],
                        complaints: set[str]) -> list[EntryRow]:
    t = tables.entries
    conditions = one_of(conn, t.c.id, ids)
    for kind, values in by_kind(carrying).items():
        conditions += one_of(conn, t.c[kind], values)
    conditions += one_of(conn, t.c.complaint_id, complaints)
    found: dict[str, EntryRow] = {}
    for condition in conditions:
        for row in await conn.execute(select(t).where(condition)):
            entry = entry_from_row(row._mapping)
            found[entry.id] = entry
    return list(found.values())


async def fetch_mail_links(conn: AsyncConnection, tables: TimelineTables, events: Sequence[Event]) -> list[EntryRow]:
    """The mails that the batch's bounces report, and the bounces that report the batch's mails
    (found through the indexed address first, then the Message-ID in the details)."""
    mails = [e for e in events if isinstance(e, EmailReceived | EmailSent) and e.contact.email]
    bounced = {e.payload.bounced_message_id for e in mails if e.payload.classification == "bounce"} - {None}
    sent = {e.payload.message_id for e in mails} - {None}
    if not mails or not (bounced or sent):
        return []
    t = tables.entries
    wanted = []
    if bounced:
        wanted += [(t.c.type.in_(MAIL_TYPES), ids) for ids in one_of(conn, t.c.details["message_id"].as_string(), bounced)]
    if sent:
        wanted += [(t.c.type == "email.received", ids)
                   for ids in one_of(conn, t.c.details["bounced_message_id"].as_string(), sent)]
    found = []
    for by_address in one_of(conn, t.c.email, {e.contact.email for e in mails if e.contact.email}):
        for kind, message_ids in wanted:
            found += [entry_from_row(row._mapping) for row in await conn.execute(select(t).where(by_address, kind, message_ids))]
    return found


def by_kind(identifiers: Iterable[Identifier]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for kind, value in identifiers:
        found.setdefault(kind, []).append(value)
    return found


def one_of(conn: AsyncConnection, column: Any, values: Iterable[str]) -> list[Any]:
    """Conditions `column IN values`: on PostgreSQL one array parameter (a single statement
    whatever the count), elsewhere chunks of bound parameters."""
    ordered = sorted(set(values))
    if not ordered:
        return []
    if conn.dialect.name == "postgresql":
        return [column == any_(literal(ordered, ARRAY(String)))]
    return [column.in_(chunk) for chunk in chunks(ordered)]


def chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


# ---- rows <-> values -------------------------------------------------------------------------


def customer_from_row(m: Any) -> CustomerRow:
    return CustomerRow(
        id=m["id"], kind=m["kind"], name=m["name"], customer_ref=m["customer_ref"], emails=tuple(m["emails"]),
        phones=tuple(m["phones"]), order_refs=tuple(m["order_refs"]), segment=m["segment"], language=m["language"],
        attributes=dict(m["attributes"]), updated_at=utc(m["updated_at"]) if m["updated_at"] else None,
        merged_into=m["merged_into"], merged_at=utc(m["merged_at"]) if m["merged_at"] else None, merged_by=m["merged_by"],
    )


def entry_from_row(m: Any) -> EntryRow:
    values = dict(m)
    values["occurred_at"] = utc(values["occurred_at"])
    values["recorded_at"] = utc(values["recorded_at"])
    values["candidates"] = tuple(values["candidates"])
    return EntryRow(**values)


def customer_values(row: CustomerRow) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "name": row.name, "customer_ref": row.customer_ref, "emails": list(row.emails),
        "phones": list(row.phones), "order_refs": list(row.order_refs), "segment": row.segment,
        "language": row.language, "attributes": row.attributes, "updated_at": row.updated_at,
        "merged_into": row.merged_into, "merged_at": row.merged_at, "merged_by": row.merged_by,
    }


def identity_values(row: IdentityRow) -> dict[str, Any]:
    return {"kind": row.kind, "value": row.value, "claimants": list(row.claimants), "customer_id": row.customer_id,
            "ambiguous": row.ambiguous, "hard_bounced_at": row.hard_bounced_at}


def entry_values(row: EntryRow) -> dict[str, Any]:
    values = dict(row.__dict__)
    values["candidates"] = list(row.candidates)
    return values


# ---- writing ---------------------------------------------------------------------------------


async def write_changes(conn: AsyncConnection, tables: TimelineTables, changes: Iterable[Change]) -> None:
    """Upserts the last state of every changed row."""
    latest: dict[tuple[str, ...], Change] = {}
    for change in changes:
        latest[change_key(change)] = change
    customers = [customer_values(c) for c in latest.values() if isinstance(c, CustomerRow)]
    identities = [identity_values(c) for c in latest.values() if isinstance(c, IdentityRow)]
    entries = [entry_values(c) for c in latest.values() if isinstance(c, EntryRow)]
    await upsert(conn, tables.customers, customers)
    await upsert(conn, tables.identities, identities)
    await upsert(conn, tables.entries, entries)


async def write_versions(conn: AsyncConnection, tables: TimelineTables, produced: Sequence[tuple[EntryRow, datetime]]) -> None:
    """Records entry states as versions. `produced` holds each state with the recorded time of
    its event, in the order applied. A version is stamped no earlier than the entry's newest
    version: an event applied after a later-recorded one (another partition, a late arrival)
    updates that version instead of rewriting the past, so the newest version always equals
    the entry's row."""
    newest = await newest_versions(conn, tables, {entry.id for entry, _ in produced})
    rows: dict[tuple[str, datetime], EntryRow] = {}
    for entry, recorded_at in produced:
        stamp = max(utc(recorded_at), newest.get(entry.id, utc(recorded_at)))
        newest[entry.id] = stamp
        rows[(entry.id, stamp)] = entry
    await upsert(conn, tables.versions, [{**entry_values(row), "version_at": at} for (_, at), row in rows.items()])


async def newest_versions(conn: AsyncConnection, tables: TimelineTables, ids: set[str]) -> dict[str, datetime]:
    v = tables.versions
    found: dict[str, datetime] = {}
    for condition in one_of(conn, v.c.id, ids):
        rows = await conn.execute(select(v.c.id, func.max(v.c.version_at)).where(condition).group_by(v.c.id))
        found.update({entry_id: utc(at) for entry_id, at in rows})
    return found


async def upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = upsert_statement(table, conn.dialect.name)
    for chunk in chunks(rows):
        await conn.execute(statement, chunk)

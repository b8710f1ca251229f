"""What the read models keep of an erased subject (`customer.erased`) and of expired data
(`privacy.expired`).

Timeline: every entry (and each of its past states kept for as-of reads) stays with its channel,
direction, type and times; its summary reads "erased" (or "restricted" while a legal hold keeps
its data, GDPR Art. 18, or "expired" once retention shredded it) and its details and personal
identifiers are gone. On erasure the customer row keeps its business reference and segment, and
loses name, addresses, numbers and attributes; the identities of the erased addresses and
numbers are deleted. Complaints keep their SLA figures (due times, states, outcomes) and lose
subject, address and number.

Redaction runs inside the writer's transaction, in log order with the other events, so a
rebuild redacts exactly as the live projection did."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import Event
from events.privacy import CustomerErased, PrivacyExpired, Restriction
from services.projector.timeline.rows import contact_id_for, utc
from services.projector.timeline.store import one_of
from services.projector.timeline.tables import Json, TimelineTables

ERASED_SUMMARY = "erased"
RESTRICTED_SUMMARY = "restricted"
EXPIRED_SUMMARY = "expired"
PERSONAL_IDENTIFIER_KINDS = ("email", "phone")
Condition = Callable[[sa.Table], Any]  # which rows of the entries (or versions) table
# The entries a restriction hides, with the timeline they belong to (revision 0012r_retention).
# Not rebuilt with the timeline, like the next one.
restricted_entries = sa.Table(
    "timeline_restricted_entries", sa.MetaData(),
    sa.Column("entry_id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("until", sa.DateTime(timezone=True), nullable=False),
)
# The classes and years retention expired, as the timeline applied them (revision 0012r_retention).
# Not rebuilt with the timeline: what expired stays expired in the rebuilt tables too.
expired_periods = sa.Table(
    "timeline_expired_periods", sa.MetaData(),
    sa.Column("retention_class", sa.String(64), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("types", Json, nullable=False),
)


async def redact(conn: AsyncConnection, tables: TimelineTables, event: Event) -> None:
    """The timeline's redaction for an event that ends data (erasure, expiry); others change nothing."""
    if isinstance(event, CustomerErased):
        await redact_timeline(conn, tables, event)
    elif isinstance(event, PrivacyExpired):
        await redact_expired(conn, tables, event)


async def redact_timeline(conn: AsyncConnection, tables: TimelineTables, event: CustomerErased) -> None:
    ids = list(event.payload.timeline_ids)
    if not ids:
        return
    customers, identities = tables.customers, tables.identities
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

    def carrying(table: sa.Table) -> Any:
        return sa.or_(table.c.owner_id.in_(ids), table.c.contact_id.in_(ids),
                      *[table.c[kind] == value for kind, value in erased])

    def held(table: sa.Table) -> Any:
        return sa.or_(sa.false(), *[of_class_and_year(table, r.types, r.year) for r in event.payload.restricted])

    await blank_entries(conn, tables, lambda t: sa.and_(carrying(t), sa.not_(held(t))), ERASED_SUMMARY)
    for restriction in event.payload.restricted:
        def which(t: sa.Table, r: Restriction = restriction) -> Any:
            return sa.and_(carrying(t), of_class_and_year(t, r.types, r.year))

        await remember_restricted(conn, tables, which, restriction.until)
        await blank_entries(conn, tables, which, RESTRICTED_SUMMARY, restricted_details(restriction.until))


async def redact_expired(conn: AsyncConnection, tables: TimelineTables, event: PrivacyExpired) -> None:
    """Entries of the expired class and year, whoever they belong to; a restricted one is now erased.
    The class and year are remembered, so that entries of it projected later (a rebuild reads the
    topics side by side) are expired as they arrive."""
    await remember_expired(conn, expired_periods, event)
    await expire(conn, tables, event.payload.types, event.payload.year)


async def remember_expired(conn: AsyncConnection, table: sa.Table, event: PrivacyExpired) -> None:
    """Records the expired class and year in a read model's own table (once)."""
    p = event.payload
    known = (await conn.execute(sa.select(table.c.year).where(
        table.c.retention_class == p.retention_class, table.c.year == p.year))).first()
    if known is None:
        await conn.execute(table.insert().values(retention_class=p.retention_class, year=p.year, types=list(p.types)))


async def expire_late_arrivals(conn: AsyncConnection, tables: TimelineTables, events: Sequence[Event]) -> None:
    """Expires the entries of events just projected whose class and year expired before (one small
    query per batch; an update only when such an event came)."""
    if not events:
        return
    expired = {(t, row.year) for row in await conn.execute(sa.select(expired_periods)) for t in row.types}
    if not expired:
        return
    for event_type, year in sorted({(e.type, utc(e.occurred_at).year) for e in events} & expired):
        await expire(conn, tables, (event_type,), year)


async def expire(conn: AsyncConnection, tables: TimelineTables, types: Sequence[str], year: int) -> None:
    if not types:
        return
    await blank_entries(conn, tables, lambda t: sa.and_(of_class_and_year(t, types, year),
                                                        t.c.summary == RESTRICTED_SUMMARY), ERASED_SUMMARY)
    await blank_entries(conn, tables, lambda t: sa.and_(of_class_and_year(t, types, year),
                                                        t.c.summary != ERASED_SUMMARY,
                                                        t.c.summary != EXPIRED_SUMMARY), EXPIRED_SUMMARY)


async def blank_entries(conn: AsyncConnection, tables: TimelineTables, which: Condition, summary: str,
                        details: dict[str, Any] | None = None) -> None:
    """Keeps channel, direction, type and times of the entries `which` selects; the rest goes."""
    for table in (tables.entries, tables.versions):  # the past states kept for as-of reads too
        await conn.execute(table.update().where(which(table)).values(
            summary=summary, details=details or {summary: True}, email=None, phone=None))


def of_class_and_year(table: sa.Table, types: Iterable[str], year: int) -> Any:
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return sa.and_(table.c.type.in_(list(types)), table.c.occurred_at >= start, table.c.occurred_at < end)


def restricted_details(until: datetime) -> dict[str, Any]:
    return {RESTRICTED_SUMMARY: True, "until": utc(until).isoformat()}


async def remember_restricted(conn: AsyncConnection, tables: TimelineTables, which: Condition, until: datetime) -> None:
    """Records which entries (and on whose timeline) a restriction hides: a rebuild cannot open
    their data any more, so it finds them without identifiers and puts them back from here."""
    entries = tables.entries
    rows = (await conn.execute(sa.select(entries.c.id, entries.c.owner_id).where(which(entries)))).all()
    known = set()
    for condition in one_of(conn, restricted_entries.c.entry_id, [row.id for row in rows]):
        known |= {r.entry_id for r in await conn.execute(sa.select(restricted_entries.c.entry_id).where(condition))}
    fresh = [dict(entry_id=row.id, owner_id=row.owner_id, until=until) for row in rows if row.id not in known]
    if fresh:
        await conn.execute(restricted_entries.insert(), fresh)


async def restrict_late_arrivals(conn: AsyncConnection, tables: TimelineTables, entry_ids: Iterable[str]) -> None:
    """Entries just (re)written that a restriction hides are hidden again, on the timeline they were on."""
    found = []
    # one array parameter on PostgreSQL: a bulk batch names thousands of entries, and chunks of
    # bound parameters meant a statement, and its rendering, per 500 of them
    for condition in one_of(conn, restricted_entries.c.entry_id, entry_ids):
        found += (await conn.execute(sa.select(restricted_entries).where(condition))).all()
    for row in found:
        for table in (tables.entries, tables.versions):
            await conn.execute(table.update().where(table.c.id == row.entry_id).values(owner_id=row.owner_id))
            await conn.execute(table.update().where(
                table.c.id == row.entry_id, table.c.summary != ERASED_SUMMARY, table.c.summary != EXPIRED_SUMMARY
            ).values(summary=RESTRICTED_SUMMARY, details=restricted_details(row.until), email=None, phone=None))


def erased_contact_ids(emails_and_phones: Iterable[tuple[str, str]]) -> set[str]:
    return {contact_id_for(identifier) for identifier in emails_and_phones}

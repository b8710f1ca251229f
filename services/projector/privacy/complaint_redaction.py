"""What the complaints read model keeps of an erased subject (`customer.erased`) and of expired
data (`privacy.expired`).

A complaint keeps its SLA figures (due times, states, outcomes, for reporting) and loses what
identifies the person: subject line, address, number, notes. Its subject reads "erased",
"restricted" (data an erasure left under a legal hold, GDPR Art. 18, until the hold ends) or
"expired" (retention shredded the class and year of the interaction that opened it), as the
timeline shows those entries. On erasure the segment lookup rows of the erased addresses and
numbers are deleted too.

`apply(event, rows) -> redactions` decides (pure); `write(conn, redactions)` records each in
`complaint_redactions`, rewrites the complaint's stored events without their personal fields and
blanks its row. The record outlives `rebuild sla`: events replayed (or arriving late) for a
redacted complaint are stored redacted (`stored_body`), so a rebuild gives the same view. The
classes and years that expired are remembered too, for complaints opened after the expiry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.codec import decode, encode
from events.envelope import Event
from events.privacy import CustomerErased, PrivacyExpired, Restriction
from services.projector.complaints.tables import complaint_events, complaints, customer_segments
from services.projector.privacy.redaction import ERASED_SUMMARY, EXPIRED_SUMMARY, RESTRICTED_SUMMARY, remember_expired
from services.projector.timeline.rows import contact_id_for, customer_id_for, utc
from services.projector.timeline.tables import Json
from shared.privacy.sealing import erase_fields

REDACTING = ("customer.erased", "privacy.expired")
# the interaction type behind each origin (see the detector); agents open complaints themselves
SOURCE_TYPES = {"email": "email.received", "webform": "webform.submitted", "call": "call.ended"}
OPENED = "complaint.opened"

# Per complaint, what it shows instead of its data (revision 0013g_complaint_redactions).
# Not emptied by `rebuild sla`.
redactions = sa.Table(
    "complaint_redactions", sa.MetaData(),
    sa.Column("complaint_id", sa.String(64), primary_key=True),
    sa.Column("summary", sa.String(16), nullable=False),
    sa.Column("until", sa.DateTime(timezone=True)),
)
expired_periods = sa.Table(
    "complaint_expired_periods", sa.MetaData(),
    sa.Column("retention_class", sa.String(64), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("types", Json, nullable=False),
)


@dataclass(frozen=True)
class Redaction:
    complaint_id: str
    summary: str  # erased | restricted | expired
    until: datetime | None = None  # when a restriction's hold ends


@dataclass(frozen=True)
class Row:
    """What deciding needs of a complaint."""

    complaint_id: str
    origin: str
    opened_at: datetime
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    customer_ref: str | None = None
    redacted: str | None = None  # its current redaction


def apply(event: Event, rows: Iterable[Row]) -> list[Redaction]:
    match event:
        case CustomerErased():
            return _erased(event, rows)
        case PrivacyExpired():
            return _expired(event.payload.types, event.payload.year, rows)
    return []


def _erased(event: CustomerErased, rows: Iterable[Row]) -> list[Redaction]:
    ids, ref = set(event.payload.timeline_ids), event.payload.customer_ref
    found = []
    for row in rows:
        if not _belongs(row, ids, ref):
            continue
        hold = _held(row, event.payload.restricted)
        found.append(Redaction(row.complaint_id, RESTRICTED_SUMMARY, hold.until) if hold is not None
                     else Redaction(row.complaint_id, ERASED_SUMMARY))
    return found


def _expired(types: Sequence[str], year: int, rows: Iterable[Row]) -> list[Redaction]:
    """A restricted complaint's hold ended: erased now; one not redacted yet: expired."""
    found = []
    for row in rows:
        if not _of(row, types, year) or row.redacted in (ERASED_SUMMARY, EXPIRED_SUMMARY):
            continue
        summary = ERASED_SUMMARY if row.redacted == RESTRICTED_SUMMARY else EXPIRED_SUMMARY
        found.append(Redaction(row.complaint_id, summary))
    return found


def _held(row: Row, restricted: Iterable[Restriction]) -> Restriction | None:
    return next((r for r in restricted if _of(row, r.types, r.year)), None)


def _of(row: Row, types: Iterable[str], year: int) -> bool:
    return opened_by(row.origin, row.opened_at, types, year)


def opened_by(origin: str | None, opened_at: datetime, types: Iterable[str], year: int) -> bool:
    """The complaint's opening interaction (or its own opening) is of these types and that UTC year."""
    return utc(opened_at).year == year and bool({SOURCE_TYPES.get(origin or ""), OPENED} & set(types))


def around_year(column: Any, year: int) -> Any:
    """`column` within `year` and a day either side: the stored times may carry any offset, and
    `opened_by` decides by the UTC year."""
    return sa.and_(column >= datetime(year - 1, 12, 31, tzinfo=UTC), column < datetime(year + 1, 1, 2, tzinfo=UTC))


def _belongs(row: Row, ids: set[str], ref: str | None) -> bool:
    if ref is not None and (row.customer_ref == ref or row.customer_id == customer_id_for(ref)):
        return True
    if row.customer_id in ids:
        return True
    return any(value and contact_id_for((kind, value)) in ids for kind, value in (("email", row.email), ("phone", row.phone)))


# ---- the writer (inside the complaints processor's transaction) -------------------------------


async def redact_complaints(conn: AsyncConnection, event: Event) -> None:
    """The complaints' redaction for an event that ends data (erasure, expiry)."""
    if isinstance(event, PrivacyExpired):
        await remember_expired(conn, expired_periods, event)
    year = event.payload.year if isinstance(event, PrivacyExpired) else None
    await write(conn, apply(event, await _rows(conn, year)))
    if isinstance(event, CustomerErased):
        await _delete_segments(conn, event)


async def write(conn: AsyncConnection, found: Sequence[Redaction]) -> None:
    for redaction in found:
        await conn.execute(redactions.delete().where(redactions.c.complaint_id == redaction.complaint_id))
        await conn.execute(redactions.insert().values(complaint_id=redaction.complaint_id, summary=redaction.summary,
                                                      until=redaction.until))
        stored = (await conn.execute(sa.select(complaint_events.c.event_id, complaint_events.c.body).where(
            complaint_events.c.complaint_id == redaction.complaint_id))).all()
        for row in stored:
            await conn.execute(complaint_events.update().where(complaint_events.c.event_id == row.event_id).values(
                body=redacted_body(decode(row.body), redaction.summary)))
        await conn.execute(complaints.update().where(complaints.c.complaint_id == redaction.complaint_id).values(
            email=None, phone=None, subject=redaction.summary))


def redacted_body(event: Event, summary: str) -> str:
    """The stored form of a complaint event without its personal data; nothing in it is personal,
    so it is stored unsealed (sealing would make keys again for an erased subject)."""
    data: dict[str, Any] = erase_fields(event.model_dump(mode="json"), type(event))
    if event.type == OPENED:
        data["payload"]["subject"] = summary
    return orjson.dumps(data).decode()


async def stored_body(conn: AsyncConnection, event: Event) -> str:
    """How a complaint event is stored: redacted when its complaint was redacted before (a
    rebuild, a late event), or when it opens one from a class and year that expired already."""
    complaint_id = event.payload.complaint_id  # type: ignore[attr-defined]
    summary = (await conn.execute(sa.select(redactions.c.summary).where(
        redactions.c.complaint_id == complaint_id))).scalar()
    if summary is None and event.type == OPENED and await _opens_expired(conn, event):
        summary = EXPIRED_SUMMARY
        await conn.execute(redactions.insert().values(complaint_id=complaint_id, summary=summary))
    return encode(event).decode() if summary is None else redacted_body(event, summary)


async def _opens_expired(conn: AsyncConnection, event: Event) -> bool:
    periods = (await conn.execute(sa.select(expired_periods).where(
        expired_periods.c.year == utc(event.occurred_at).year))).all()
    origin = event.payload.origin  # type: ignore[attr-defined]
    return any(opened_by(origin, event.occurred_at, period.types, period.year) for period in periods)


async def _rows(conn: AsyncConnection, year: int | None) -> list[Row]:
    """The complaints (opened in `year`, when given) with their current redaction."""
    c = complaints.c
    query = sa.select(c.complaint_id, c.origin, c.opened_at, c.customer_id, c.email, c.phone, c.customer_ref,
                      redactions.c.summary).select_from(
        complaints.outerjoin(redactions, redactions.c.complaint_id == c.complaint_id))
    if year is not None:
        query = query.where(around_year(c.opened_at, year))
    return [Row(row.complaint_id, row.origin, row.opened_at, row.customer_id, row.email, row.phone, row.customer_ref,
                row.summary) for row in await conn.execute(query)]


async def _delete_segments(conn: AsyncConnection, event: CustomerErased) -> None:
    ids, ref = set(event.payload.timeline_ids), event.payload.customer_ref
    segments = (await conn.execute(sa.select(customer_segments.c.identifier, customer_segments.c.customer_ref))).all()
    for row in segments:
        kind, _, value = row.identifier.partition(":")
        if kind in ("email", "phone") and (row.customer_ref == ref or contact_id_for((kind, value)) in ids):
            await conn.execute(customer_segments.delete().where(customer_segments.c.identifier == row.identifier))

"""The consent projection as a pure fold: `apply(event, current) -> list[Change]`.

Every statement goes into the history; it becomes the subject's current state for its purpose
when it is newer than the one held (by when it happened, then by event id), so the result
does not depend on the order the events are read in (a rebuild reads topics side by side).
An erasure redacts the personal data of the subjects it names and keeps the rest: purpose,
state, times and source stay as the record of what was agreed; a statement about an erased
subject read after the erasure is redacted as it is held, so a rebuild gives the same rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from events.consent import ConsentGiven, ConsentWithdrawn
from events.envelope import Event
from events.privacy import CustomerErased
from services.projector.timeline.rows import contact_id_for, customer_id_for, utc


@dataclass(frozen=True)
class ConsentRow:
    event_id: str
    subject_id: str
    purpose: str
    state: str  # given | withdrawn
    occurred_at: datetime
    recorded_at: datetime
    channel: str
    source_kind: str
    form_id: str | None = None
    field: str | None = None
    text_version: str | None = None
    submission_id: str | None = None
    actor: str | None = None
    note: str | None = None
    customer_ref: str | None = None
    email: str | None = None
    phone: str | None = None

    def newer_than(self, other: ConsentRow | None) -> bool:
        return other is None or (self.occurred_at, self.event_id) > (other.occurred_at, other.event_id)


@dataclass(frozen=True)
class AddHistory:
    row: ConsentRow


@dataclass(frozen=True)
class SetCurrent:
    row: ConsentRow


@dataclass(frozen=True)
class Redact:
    subject_ids: tuple[str, ...]


Change = AddHistory | SetCurrent | Redact


def subject_id_of(event: Event) -> str | None:
    """The read-model id of whom the event names: customer, else the address's or number's contact."""
    contact = event.contact
    if contact.customer_ref:
        return customer_id_for(contact.customer_ref)
    if contact.email:
        return contact_id_for(("email", contact.email))
    if contact.phone:
        return contact_id_for(("phone", contact.phone))
    return event.customer_id


def row_of(event: ConsentGiven | ConsentWithdrawn, subject_id: str) -> ConsentRow:
    p, source = event.payload, event.payload.source
    return ConsentRow(
        event_id=str(event.event_id), subject_id=subject_id, purpose=p.purpose,
        state="given" if isinstance(event, ConsentGiven) else "withdrawn",
        occurred_at=utc(event.occurred_at), recorded_at=utc(event.recorded_at), channel=event.channel,
        source_kind=source.kind, form_id=source.form_id, field=source.field, text_version=source.text_version,
        submission_id=source.submission_id, actor=source.actor.name if source.actor else None, note=p.note,
        customer_ref=event.contact.customer_ref, email=event.contact.email, phone=event.contact.phone,
    )


def apply(event: Event, current: ConsentRow | None, erased: bool = False) -> list[Change]:
    """`current`: the subject's row for the event's purpose, or None; `erased`: the subject was
    erased already (its statement read after the erasure is held without personal data)."""
    match event:
        case ConsentGiven() | ConsentWithdrawn():
            subject_id = subject_id_of(event)
            if subject_id is None:  # its key was shredded before it was read: nobody left to hold it for
                return []
            row = row_of(event, subject_id)
            if erased:
                row = replace(row, email=None, phone=None, note=None)
            return [AddHistory(row), SetCurrent(row)] if row.newer_than(current) else [AddHistory(row)]
        case CustomerErased(payload=p):
            return [Redact(p.timeline_ids)] if p.timeline_ids else []
    return []

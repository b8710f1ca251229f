"""What the notifier remembers between events, as plain values, and the changes an event
makes to it. `changes_for(event, view)` is pure; the store loads the `View` an event needs
and applies the changes in the same transaction as the notifications they lead to.

Identities: every contact identifier becomes a key ("email:anna@example.com",
"customer_ref:K-1", ...). Customer master data maps keys to a customer, so a parcel known only
by its order number still finds the customer's open complaint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from events.call import CallEnded
from events.complaint import (
    ComplaintOpened,
    ComplaintPriorityChanged,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintResponded,
)
from events.consent import ConsentGiven, ConsentWithdrawn
from events.customer import ContactLinked, ContactUnlinked, CustomerRegistered
from events.email import EmailReceived, EmailSent
from events.envelope import Event
from events.webform import WebformSubmitted

IDENTIFIER_KINDS = ("customer_ref", "email", "phone", "order_ref", "tracking_number")


@dataclass(frozen=True)
class CustomerFacts:
    customer_ref: str
    name: str | None = None
    segment: str | None = None
    email: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class ComplaintFacts:
    complaint_id: str
    status: str = "open"  # open | resolved
    priority: str = "normal"
    segment: str | None = None
    team: str | None = None
    origin: str | None = None
    subject: str = ""
    opened_at: datetime | None = None
    customer_ref: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class View:
    """What the store knows that matters for one event."""

    keys: tuple[str, ...] = ()  # the event's identity keys, widened by the customer found
    customer: CustomerFacts | None = None
    complaint: ComplaintFacts | None = None  # the complaint the event names
    open_complaint: ComplaintFacts | None = None  # an open complaint of the same customer
    unanswered: tuple[datetime, ...] = ()  # inbound contacts since the last response

    @property
    def identity(self) -> str | None:
        """The one key that stands for this customer (or contact) in per-customer counters."""
        if self.customer is not None:
            return f"customer_ref:{self.customer.customer_ref}"
        return self.keys[0] if self.keys else None


# ---- changes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertCustomer:
    customer: CustomerFacts
    keys: tuple[str, ...]


@dataclass(frozen=True)
class LinkKey:
    key: str
    customer_ref: str


@dataclass(frozen=True)
class UnlinkKey:
    key: str
    customer_ref: str


@dataclass(frozen=True)
class UpsertComplaint:
    complaint: ComplaintFacts


@dataclass(frozen=True)
class SetComplaintStatus:
    complaint_id: str
    status: str
    priority: str | None = None


@dataclass(frozen=True)
class RecordInbound:
    identity: str
    event_id: str
    at: datetime
    forget_before: datetime | None = None  # older contacts no longer count


KEEP_CONTACTS = timedelta(hours=24)


@dataclass(frozen=True)
class ClearInbound:
    identity: str


@dataclass(frozen=True)
class CancelUnsent:
    """Escalations planned for later (delayed levels, held outside hours) become pointless once
    the complaint moved on; those already due are still delivered: the breach did happen."""

    complaint_id: str
    clock_kinds: tuple[str, ...] | None = None  # None: every kind
    reason: str = ""


@dataclass(frozen=True)
class MarkUndeliverable:
    """Mail to this address failed for good (a hard bounce): the notifier does not write to it."""

    address: str
    at: datetime
    event_id: str


@dataclass(frozen=True)
class RecordConsent:
    """A statement of consent about a key (`customer_ref:K-1`, `email:...`); the latest counts."""

    key: str
    purpose: str
    state: str  # given | withdrawn
    at: datetime
    event_id: str


Change = (
    UpsertCustomer
    | LinkKey
    | UnlinkKey
    | UpsertComplaint
    | SetComplaintStatus
    | RecordInbound
    | ClearInbound
    | CancelUnsent
    | MarkUndeliverable
    | RecordConsent
)


def event_keys(event: Event) -> tuple[str, ...]:
    """The identity keys an event carries itself."""
    keys: list[str] = []
    for kind in IDENTIFIER_KINDS:
        value = getattr(event.contact, kind)
        if value:
            keys.append(f"{kind}:{value}")
    if isinstance(event, CallEnded) and event.payload.direction == "inbound" and event.payload.from_number:
        keys.append(f"phone:{event.payload.from_number}")
    if event.customer_id:
        keys.append(f"customer_id:{event.customer_id}")
    return tuple(dict.fromkeys(keys))


def is_inbound_contact(event: Event) -> bool:
    match event:
        case EmailReceived():
            return event.payload.classification == "normal"
        case WebformSubmitted():
            return True
        case CallEnded():
            return event.payload.direction == "inbound" and event.payload.disposition != "answered"
    return False


def is_response(event: Event) -> bool:
    match event:
        case EmailSent() | ComplaintResponded():
            return True
        case CallEnded():
            return event.payload.disposition == "answered"
    return False


def changes_for(event: Event, view: View, keep_contacts: timedelta = KEEP_CONTACTS) -> list[Change]:
    """`keep_contacts`: how long an unanswered inbound contact still counts."""
    undeliverable = _hard_bounces(event)  # an old bounce still says the address is gone
    if event.historic:
        return undeliverable
    changes: list[Change] = [*undeliverable, *_master_data(event), *_consents(event)]
    changes += _complaint_changes(event, view)
    if view.identity is not None:
        if is_response(event):
            changes.append(ClearInbound(view.identity))
        elif is_inbound_contact(event):
            at = event.occurred_at
            changes.append(RecordInbound(view.identity, str(event.event_id), at, at - keep_contacts))
    return changes


def _hard_bounces(event: Event) -> list[Change]:
    if isinstance(event, EmailReceived) and event.payload.classification == "bounce":
        return [MarkUndeliverable(a, event.occurred_at, str(event.event_id)) for a in event.payload.bounced_recipients]
    return []


def _consents(event: Event) -> list[Change]:
    if isinstance(event, ConsentGiven | ConsentWithdrawn):
        state = "given" if isinstance(event, ConsentGiven) else "withdrawn"
        return [RecordConsent(key, event.payload.purpose, state, event.occurred_at, str(event.event_id))
                for key in event_keys(event)]
    return []


def _master_data(event: Event) -> list[Change]:
    match event:
        case CustomerRegistered(payload=p):
            keys = [f"customer_ref:{p.customer_ref}"]
            keys += [f"email:{e}" for e in p.emails] + [f"phone:{n}" for n in p.phones]
            keys += [f"order_ref:{o}" for o in p.order_refs]
            facts = CustomerFacts(p.customer_ref, p.name, p.segment, p.emails[0] if p.emails else None, p.language)
            return [UpsertCustomer(facts, tuple(keys))]
        case ContactLinked(payload=p):
            return [LinkKey(f"{p.identifier.kind}:{p.identifier.value}", p.customer_ref)]
        case ContactUnlinked(payload=p):
            return [UnlinkKey(f"{p.identifier.kind}:{p.identifier.value}", p.customer_ref)]
    return []


def complaint_from_opened(event: ComplaintOpened, view: View) -> ComplaintFacts:
    p = event.payload
    customer = view.customer
    return ComplaintFacts(
        complaint_id=p.complaint_id,
        priority=p.priority,
        segment=p.segment or (customer.segment if customer else None),
        team=p.team,
        origin=p.origin,
        subject=str(p.subject),
        opened_at=event.occurred_at,
        customer_ref=customer.customer_ref if customer else event.contact.customer_ref,
        customer_id=event.customer_id,
        customer_name=customer.name if customer else None,
        customer_email=(customer.email if customer else None) or event.contact.email,
        keys=view.keys,
    )


def _complaint_changes(event: Event, view: View) -> list[Change]:
    match event:
        case ComplaintOpened():
            return [UpsertComplaint(complaint_from_opened(event, view))]
        case ComplaintResolved(payload=p):
            return [SetComplaintStatus(p.complaint_id, "resolved"), CancelUnsent(p.complaint_id, None, "resolved")]
        case ComplaintReopened(payload=p):
            return [SetComplaintStatus(p.complaint_id, "open")]
        case ComplaintPriorityChanged(payload=p):
            return [SetComplaintStatus(p.complaint_id, view.complaint.status if view.complaint else "open", p.priority)]
        case ComplaintResponded(payload=p):
            return [CancelUnsent(p.complaint_id, ("first_response",), "responded")]
    return []

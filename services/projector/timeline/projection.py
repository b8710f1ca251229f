"""The timeline projection as a pure fold: `apply(event, view) -> list[Change]`.

Each change is the new state of one row (customer, identity or entry). The caller records the
changes (in memory for tests, in the database through the writer); nothing here does I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from events.call import CallAnswered, CallEnded, CallStarted
from events.complaint import (
    ComplaintOpened,
    ComplaintPaused,
    ComplaintPriorityChanged,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintResponded,
    ComplaintResumed,
)
from events.customer import ContactLinked, ContactUnlinked, CustomerMerged, CustomerRegistered, CustomerUnmerged
from events.email import EmailReceived, EmailSent
from events.envelope import Event
from events.escalation import EscalationFailed, EscalationNotified
from events.shipment import ShipmentStatusChanged
from events.sla import SlaBreached, SlaWarning
from events.webform import WebformSubmitted
from services.projector.timeline.case_entries import case_entry
from services.projector.timeline.entries import (
    call_key, fold_call, fold_shipment, form_entry, link_bounce, mail_entry, shipment_key,
)
from services.projector.timeline.identity import (
    Resolutions, hard_bounced, merged_group, placed, with_claim, without_claim,
)
from services.projector.timeline.rows import (
    IDENTIFIER_KINDS,
    CustomerRow,
    EntryRow,
    Identifier,
    IdentityRow,
    changed,
    customer_id_for,
    entry_id_for,
    utc,
)
from services.projector.timeline.view import Change, View

PROJECTION = "timeline"


def apply(event: Event, view: View) -> list[Change]:
    match event:
        case EmailReceived() | EmailSent():
            return place_mail(event, view)
        case WebformSubmitted():
            return place(form_entry(event), view)
        case CallStarted() | CallAnswered() | CallEnded():
            return place(fold_call(view.entry(entry_id_for(call_key(event))), event), view)
        case ShipmentStatusChanged():
            return place(fold_shipment(view.entry(entry_id_for(shipment_key(event))), event), view)
        case CustomerRegistered():
            return register(event, view)
        case ContactLinked():
            return claim(view, event.payload.identifier.kind, event.payload.identifier.value, event.payload.customer_ref, True)
        case ContactUnlinked():
            return claim(view, event.payload.identifier.kind, event.payload.identifier.value, event.payload.customer_ref, False)
        case CustomerMerged() | CustomerUnmerged():
            return merge(event, view)
        case (ComplaintOpened() | ComplaintResponded() | ComplaintResolved() | ComplaintReopened() | ComplaintPaused()
              | ComplaintResumed() | ComplaintPriorityChanged() | SlaWarning() | SlaBreached()
              | EscalationNotified() | EscalationFailed()):
            entry = case_entry(event)
            return [] if entry is None else place_case(entry, view)
        case _:
            return []


# ---- interactions ----------------------------------------------------------------------------


def place(entry: EntryRow, view: View, resolutions: Resolutions | None = None) -> list[Change]:
    """The entry on the timeline its identifiers resolve to, plus its unmatched contact."""
    entry = placed(entry, view, resolutions)
    if entry.contact_id is None:
        return [entry]  # no identifier at all: kept, but on no timeline
    if view.customer(entry.contact_id) is not None:
        return [entry]
    if entry.details.get("list"):
        # a newsletter makes nobody a contact; should its sender write in person, it is there
        return [entry]
    return [contact_row(entry.identifiers()[0]), entry]


def place_mail(event: EmailReceived | EmailSent, view: View) -> list[Change]:
    """A mail, with the link between a bounce and the mail that bounced, whichever arrives first."""
    entry = mail_entry(event)
    p, email = event.payload, event.contact.email
    if email and p.classification == "bounce" and p.bounced_message_id:
        original = view.mail_with_message_id(p.bounced_message_id, email)
        if original is not None:
            entry = link_bounce(entry, original)
    changes: list[Change] = []
    if isinstance(event, EmailReceived) and p.classification == "bounce":
        # addresses that failed for good are marked, on whoever's customer record they are
        changes += [hard_bounced(view.identity(("email", address)), ("email", address), utc(event.occurred_at))
                    for address in p.bounced_recipients]
    changes += place(entry, view)
    if email and p.message_id:
        for bounce in view.bounces_of(p.message_id, email):
            if bounce.details.get("bounced_entry_id") is None:
                changes.append(link_bounce(bounce, entry))
    return changes


def contact_row(identifier: Identifier) -> CustomerRow:
    kind, value = identifier
    row = IdentityRow(kind, value)
    return CustomerRow(
        id=row.contact_id,
        kind="contact",
        emails=(value,) if kind == "email" else (),
        phones=(value,) if kind == "phone" else (),
        order_refs=(value,) if kind == "order_ref" else (),
        customer_ref=value if kind == "customer_ref" else None,
        attributes={"identifier_kind": kind} if kind not in ("email", "phone", "order_ref", "customer_ref") else {},
    )


def place_case(entry: EntryRow, view: View) -> list[Change]:
    """Case events often carry no contact: they take the identifiers of their complaint's
    other entries, and lend theirs to entries of the same complaint that had none."""
    siblings = [e for e in view.entries_of_complaint(entry.complaint_id or "") if e.id != entry.id]
    if not entry.identifiers():
        known = [e for e in siblings if e.identifiers()]
        if known:
            entry = changed(entry, **shared_identifiers(known))
        else:
            return [changed(entry, owner_id="", contact_id=None)]
    changes = place(entry, view)
    for orphan in siblings:
        if not orphan.identifiers():
            changes += place(changed(orphan, **shared_identifiers([entry])), view)
    return changes


def shared_identifiers(entries: list[EntryRow]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for kind in IDENTIFIER_KINDS:
        values = [getattr(e, kind) for e in entries if getattr(e, kind)]
        found[kind] = min(values) if values else None
    return found


# ---- identity --------------------------------------------------------------------------------


@dataclass
class Overlay:
    """The view with this event's identity changes on top, so entries are placed against them."""

    base: View
    identities: dict[Identifier, IdentityRow] = field(default_factory=dict)
    customers: dict[str, CustomerRow] = field(default_factory=dict)

    def identity(self, identifier: Identifier) -> IdentityRow | None:
        return self.identities.get(identifier) or self.base.identity(identifier)

    def customer(self, customer_id: str) -> CustomerRow | None:
        return self.customers.get(customer_id) or self.base.customer(customer_id)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.base, name)


def register(event: CustomerRegistered, view: View) -> list[Change]:
    """Master data in or updated: the customer row, and its identifiers claimed (or released
    when an update drops them)."""
    p = event.payload
    customer_id = customer_id_for(p.customer_ref)
    before = view.customer(customer_id)
    row = CustomerRow(
        id=customer_id, kind="customer", name=p.name, customer_ref=p.customer_ref,
        emails=tuple(sorted(set(p.emails))), phones=tuple(sorted(set(p.phones))),
        order_refs=tuple(sorted(set(p.order_refs))), segment=p.segment, language=p.language,
        attributes=dict(sorted(p.attributes.items())), updated_at=utc(event.occurred_at),
    )
    if before is not None:  # new master data does not undo a merge
        row = changed(row, merged_into=before.merged_into, merged_at=before.merged_at, merged_by=before.merged_by)
    if before is not None and before.updated_at is not None and before.updated_at > row.updated_at:
        return []  # an older version of the master data arrived late
    old = before.identifiers() if before else set()
    new = row.identifiers()
    overlay = Overlay(view)
    for identifier in sorted(new - old):
        overlay.identities[identifier] = with_claim(view.identity(identifier), identifier, customer_id)
    for identifier in sorted(old - new):
        overlay.identities[identifier] = without_claim(view.identity(identifier), identifier, customer_id)
    return [row, *overlay.identities.values(), *replaced(overlay)]


def merge(event: CustomerMerged | CustomerUnmerged, view: View) -> list[Change]:
    """The record points at the one it was merged into (or no longer does); every entry that
    carries an identifier claimed by it or by records merged into it is placed again. Nothing
    else changes, so an unmerge leaves both records as they would be without the merge."""
    p = event.payload
    customer_id, into = customer_id_for(p.customer_ref), customer_id_for(p.into_customer_ref)
    before = view.customer(customer_id) or CustomerRow(id=customer_id, kind="customer", customer_ref=p.customer_ref)
    if isinstance(event, CustomerMerged):
        if into == customer_id:
            return []
        actor = p.actor.name if p.actor else None
        row = changed(before, merged_into=into, merged_at=utc(event.occurred_at), merged_by=actor)
    elif before.merged_into == into:
        row = changed(before, merged_into=None, merged_at=None, merged_by=None)
    else:
        return []  # not merged into that record (any more)
    overlay = Overlay(view, customers={customer_id: row})
    claimed = {(i.kind, i.value) for member in merged_group(view, customer_id) for i in view.claimed_by(member)}
    return [row, *replaced(overlay, claimed)]


def claim(view: View, kind: str, value: str, customer_ref: str, linked: bool) -> list[Change]:
    identifier = (kind, value)
    customer_id = customer_id_for(customer_ref)
    change = with_claim if linked else without_claim
    overlay = Overlay(view, {identifier: change(view.identity(identifier), identifier, customer_id)})
    return [*overlay.identities.values(), *replaced(overlay)]


def replaced(overlay: Overlay, identifiers: Iterable[Identifier] | None = None) -> list[Change]:
    """Every entry carrying a changed identifier (by default those of the overlay), placed again."""
    changes: list[Change] = []
    seen: set[str] = set()
    # a customer's entries mostly carry the same identifiers: each set is resolved once
    resolutions: Resolutions = {}
    for identifier in sorted(overlay.identities if identifiers is None else identifiers):
        for entry in overlay.base.entries_with(identifier):
            if entry.id not in seen:
                seen.add(entry.id)
                moved = place(entry, overlay, resolutions)  # type: ignore[arg-type]
                if moved[-1] is not entry:
                    changes += moved
    return changes

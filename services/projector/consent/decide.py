"""Whether an agent's statement about a subject's consent is recorded: a pure decision.

An agent records consent given or withdrawn for one of the configured purposes, on a customer's
record (keyed by its customer reference) or on an unmatched contact (keyed by its address, else
its number). Stating again what is already the subject's current state is refused, so the
history holds changes, not repeated clicks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from events.consent import ConsentGiven, ConsentWithdrawn
from events.envelope import ActorRef, ContactIdentifiers
from events.ids import event_id_for
from services.projector.customers.commands import Rejected
from services.projector.timeline.rows import CustomerRow

State = Literal["given", "withdrawn", "unknown"]


@dataclass(frozen=True)
class RecordConsent:
    customer_id: str
    purpose: str
    given: bool
    actor: str
    via: str  # api | web
    note: str | None = None


def subject_contact(owner: CustomerRow) -> ContactIdentifiers:
    if owner.kind == "customer" and owner.customer_ref:
        return ContactIdentifiers(customer_ref=owner.customer_ref)
    if owner.emails:
        return ContactIdentifiers(email=owner.emails[0])
    if owner.phones:
        return ContactIdentifiers(phone=owner.phones[0])
    raise Rejected(409, "no_subject", "this contact has no address or number to record consent for")


def decide(command: RecordConsent, owner: CustomerRow | None, current: State, purposes: list[str],
           now: datetime) -> ConsentGiven | ConsentWithdrawn:
    """The event to publish, or `Rejected` saying why not."""
    if owner is None:
        raise Rejected(404, "not_found", f"no customer or contact with id {command.customer_id}")
    if command.purpose not in purposes:
        raise Rejected(422, "unknown_purpose",
                       f"purpose: {command.purpose!r} is not a configured purpose; use one of {purposes}")
    wanted: State = "given" if command.given else "withdrawn"
    if current == wanted:
        raise Rejected(409, f"already_{wanted}", f"consent to {command.purpose} is already {wanted}")
    cls = ConsentGiven if command.given else ConsentWithdrawn
    return cls(
        event_id=event_id_for(cls.model_fields["type"].default, owner.id, command.purpose, command.actor,
                              now.isoformat()),
        occurred_at=now, recorded_at=now, channel="agent", source=command.via,
        contact=subject_contact(owner), customer_id=owner.id,
        payload={"purpose": command.purpose, "note": command.note,
                 "source": {"kind": "agent", "actor": ActorRef(kind="agent", name=command.actor)}},
    )

"""Which events call for a human: the pure step between an event (plus what the notifier
remembers, a `View`) and the triggers that routing rules match on.

Trigger types (the `type` a routing rule matches):
- `sla.warning`, `sla.breached`: an SLA clock of a complaint warned or breached;
- `complaint.opened`: every new complaint (rules narrow it, e.g. `segment = "key_account"`);
- `shipment.exception`: a parcel problem (configured statuses) for a customer with an open complaint;
- `call.missed`: an unanswered inbound call from a customer with an open complaint;
- `contacts.unanswered`: the N-th inbound contact within M hours without a response in between;
- `callback.overdue`: a callback waited longer than `[callbacks] escalate_after` (business time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.call import CallEnded
from events.callback import CallbackOverdue
from events.complaint import ComplaintOpened
from events.envelope import Event
from events.shipment import ShipmentStatusChanged
from events.sla import SlaBreached, SlaWarning
from services.notifier.durations import parse_duration
from services.notifier.state import ComplaintFacts, View, complaint_from_opened, is_inbound_contact
from shared.config import Notifier as NotifierConfig

TRIGGER_TYPES = (
    "sla.warning",
    "sla.breached",
    "complaint.opened",
    "shipment.exception",
    "call.missed",
    "contacts.unanswered",
    "callback.overdue",
)


@dataclass(frozen=True)
class Trigger:
    type: str
    event_id: str
    occurred_at: datetime
    dedup_key: str  # one notification per dedup key, level and target
    channel: str
    complaint: ComplaintFacts | None = None
    clock_kind: str | None = None  # first_response | resolution
    due_at: datetime | None = None
    detail: str = ""
    customer_ref: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    segment: str | None = None
    contact_label: str | None = None
    correlation_id: str | None = None  # of the event's chain; the outcome events carry it on

    def facts(self) -> dict[str, str | None]:
        """The values routing rules match on."""
        complaint = self.complaint
        return {
            "type": self.type,
            "kind": self.clock_kind,
            "priority": complaint.priority if complaint else None,
            "segment": self.segment,
            "channel": self.channel,
            "team": complaint.team if complaint else None,
        }


def detect_triggers(event: Event, view: View, config: NotifierConfig) -> list[Trigger]:
    if event.historic:
        return []
    found: list[Trigger] = []
    match event:
        case SlaWarning() | SlaBreached() if not (view.complaint and view.complaint.status == "resolved"):
            found.append(_sla(event, view))
        case ComplaintOpened():
            complaint = complaint_from_opened(event, view)
            found.append(
                _about(event, view, "complaint.opened", complaint, f"complaint:{complaint.complaint_id}:opened")
            )
        case ShipmentStatusChanged(payload=p) if p.status in config.shipment_statuses and view.open_complaint:
            detail = " / ".join(part for part in (p.status, p.message, p.tracking_number) if part)
            key = f"complaint:{view.open_complaint.complaint_id}:shipment:{p.tracking_number}:{p.status}"
            found.append(_about(event, view, "shipment.exception", view.open_complaint, key, detail))
        case CallEnded(payload=p) if (
            p.direction == "inbound" and p.disposition in config.missed_call_dispositions and view.open_complaint
        ):
            key = f"complaint:{view.open_complaint.complaint_id}:call:{p.call_id}"
            found.append(_about(event, view, "call.missed", view.open_complaint, key, f"{p.disposition} call"))
        case CallbackOverdue():
            found.append(_callback_overdue(event, view))
    unanswered = _unanswered(event, view, config)
    if unanswered is not None:
        found.append(unanswered)
    return found


def _customer_fields(view: View, complaint: ComplaintFacts | None) -> dict[str, str | None]:
    """What the complaint says about its customer, completed from customer master data."""
    customer = view.customer

    def pick(complaint_value: str | None, customer_value: str | None) -> str | None:
        return complaint_value or customer_value

    return {
        "customer_ref": pick(complaint and complaint.customer_ref, customer and customer.customer_ref),
        "customer_name": pick(complaint and complaint.customer_name, customer and customer.name),
        "customer_email": pick(complaint and complaint.customer_email, customer and customer.email),
        "segment": pick(complaint and complaint.segment, customer and customer.segment),
    }


def _about(event: Event, view: View, kind: str, complaint: ComplaintFacts, dedup_key: str, detail: str = "") -> Trigger:
    return Trigger(
        type=kind,
        event_id=str(event.event_id),
        occurred_at=event.occurred_at,
        dedup_key=dedup_key,
        channel=event.channel,
        complaint=complaint,
        detail=detail or complaint.subject,
        contact_label=_contact_label(event),
        correlation_id=event.correlation_id,
        **_customer_fields(view, complaint),
    )


def _sla(event: SlaWarning | SlaBreached, view: View) -> Trigger:
    p = event.payload
    complaint = view.complaint or ComplaintFacts(complaint_id=p.complaint_id)
    return Trigger(
        type=event.type,
        event_id=str(event.event_id),
        occurred_at=event.occurred_at,
        # warning and breach of one clock are different kinds; replays of either are not
        dedup_key=f"complaint:{p.complaint_id}:{event.type}:{p.kind}",
        channel=complaint.origin or event.channel,
        complaint=complaint,
        clock_kind=p.kind,
        due_at=p.due_at,
        detail=complaint.subject,
        contact_label=_contact_label(event),
        correlation_id=event.correlation_id,
        **_customer_fields(view, complaint),
    )


def _callback_overdue(event: CallbackOverdue, view: View) -> Trigger:
    p = event.payload
    return Trigger(
        type=event.type,
        event_id=str(event.event_id),
        occurred_at=event.occurred_at,
        dedup_key=f"callback:{p.callback_id}:overdue",  # once per callback, however often it is seen
        channel="phone",
        detail=f"{p.phone} has waited {p.limit} of business time ({p.calendar}) for a callback",
        contact_label=p.phone,
        correlation_id=event.correlation_id,
        **_customer_fields(view, None),
    )


def _unanswered(event: Event, view: View, config: NotifierConfig) -> Trigger | None:
    if not is_inbound_contact(event) or view.identity is None:
        return None
    since = event.occurred_at - parse_duration(config.unanswered_within)
    recent = [at for at in view.unanswered if since <= at <= event.occurred_at]
    # this event is the N-th: exactly once per streak, not again at N+1
    if len(recent) + 1 != config.unanswered_contacts:
        return None
    complaint = view.open_complaint
    return Trigger(
        type="contacts.unanswered",
        event_id=str(event.event_id),
        occurred_at=event.occurred_at,
        dedup_key=f"{view.identity}:unanswered:{event.event_id}",
        channel=event.channel,
        complaint=complaint,
        detail=f"{config.unanswered_contacts} contacts within {config.unanswered_within} without a response",
        contact_label=_contact_label(event),
        correlation_id=event.correlation_id,
        **_customer_fields(view, complaint),
    )


def _contact_label(event: Event) -> str | None:
    contact = event.contact
    return contact.email or contact.phone or contact.customer_ref or contact.order_ref or None

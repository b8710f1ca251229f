"""Events for timeline and identity tests, shaped like the adapters' output
(see events/examples/*/1/*.json), with deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.call import CallAnswered, CallEnded, CallStarted
from events.complaint import ComplaintOpened, ComplaintResponded
from events.customer import ContactLinked, ContactUnlinked, CustomerMerged, CustomerRegistered, CustomerUnmerged
from events.email import EmailReceived, EmailSent
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.shipment import ShipmentStatusChanged
from events.sla import SlaBreached
from events.webform import WebformSubmitted

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HASH = "0" * 64


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope(kind: str, key: str, minute: float, **contact: str | None) -> dict:
    return {
        "event_id": event_id_for(kind, key),
        "occurred_at": at(minute),
        "recorded_at": at(minute) + timedelta(seconds=2),
        "source": "test",
        "contact": ContactIdentifiers(**{k: v for k, v in contact.items() if v}),
    }


def registered(ref: str, name: str, emails=(), phones=(), order_refs=(), minute: float = 0, version: str = "1") -> CustomerRegistered:
    return CustomerRegistered(
        **envelope("customer.registered", f"{ref}:{version}", minute),
        payload={"customer_ref": ref, "name": name, "emails": emails, "phones": phones, "order_refs": order_refs},
    )


def linked(kind: str, value: str, ref: str, minute: float = 0, actor: str = "anna", unlink: bool = False):
    cls = ContactUnlinked if unlink else ContactLinked
    return cls(
        **envelope(cls.model_fields["type"].default, f"{kind}:{value}:{ref}:{minute}", minute),
        payload={"identifier": {"kind": kind, "value": value}, "customer_ref": ref, "actor": {"kind": "agent", "name": actor}},
    )


def merged(ref: str, into: str, minute: float = 0, actor: str = "anna", unmerge: bool = False):
    cls = CustomerUnmerged if unmerge else CustomerMerged
    return cls(
        **envelope(cls.model_fields["type"].default, f"{ref}:{into}:{minute}", minute),
        payload={"customer_ref": ref, "into_customer_ref": into, "actor": {"kind": "agent", "name": actor}},
    )


def mail(n: int, email: str, minute: float, subject: str = "Parcel arrived damaged", sent: bool = False,
         classification: str = "normal", **contact: str | None):
    cls = EmailSent if sent else EmailReceived
    sender = {"email": "support@shop.example"} if sent else {"email": email, "name": "Erika Muster"}
    to = [{"email": email}] if sent else [{"email": "support@shop.example"}]
    return cls(
        **envelope(cls.model_fields["type"].default, f"mail-{n}", minute, email=email, **contact),
        payload={
            "position": {"mailbox": "support", "folder": "Sent" if sent else "INBOX", "uid": n},
            "message_id": f"<m{n}@example.org>", "sender": sender, "to": to, "subject": subject,
            "text": "Hello,\nmy parcel arrived damaged.", "classification": classification,
            "thread_key": "msgid:<m1@example.org>", "content_hash": HASH,
        },
    )


def call(kind: str, call_id: str, phone: str | None, minute: float, **extra):
    cls = {"started": CallStarted, "answered": CallAnswered, "ended": CallEnded}[kind]
    payload = {"provider": "cti", "call_id": call_id, "direction": extra.pop("direction", "inbound"),
               "from_number": phone, "to_number": "+4930555000", "users": ["21"], **extra}
    return cls(**envelope(f"call.{kind}", call_id, minute, phone=phone), payload=payload)


def form(n: int, email: str, minute: float, message: str = "Where is my order?", **contact: str | None) -> WebformSubmitted:
    return WebformSubmitted(
        **envelope("webform.submitted", f"form-{n}", minute, email=email, **contact),
        payload={"form_id": "contact", "submission_id": f"s-{n}", "name": "Erika Muster", "email": email,
                 "subject": "Order", "message": message, "topic": "contact"},
    )


def parcel(tracking: str, status: str, minute: float, **contact: str | None) -> ShipmentStatusChanged:
    return ShipmentStatusChanged(
        **envelope("shipment.status_changed", f"{tracking}:{status}:{minute}", minute, tracking_number=tracking, **contact),
        payload={"provider": "generic", "tracking_number": tracking, "carrier": "DHL", "status": status},
    )


def complaint_opened(cid: str, minute: float, **contact: str | None) -> ComplaintOpened:
    return ComplaintOpened(
        **envelope("complaint.opened", cid, minute, **contact), channel="email",
        payload={"complaint_id": cid, "origin": "email", "subject": "Parcel arrived damaged", "priority": "high"},
    )


def complaint_responded(cid: str, minute: float) -> ComplaintResponded:
    return ComplaintResponded(
        **envelope("complaint.responded", cid, minute), channel="agent",
        payload={"complaint_id": cid, "via": "email", "responded_by": {"kind": "agent", "name": "anna"}},
    )


def sla_breached(cid: str, minute: float) -> SlaBreached:
    return SlaBreached(
        **envelope("sla.breached", cid, minute),
        payload={"complaint_id": cid, "kind": "first_response", "due_at": at(minute), "policy": "standard", "policy_version": 1},
    )

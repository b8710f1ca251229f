"""Builders of the events the notifier reacts to (synthetic data), for its tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.call import CallEnded, CallEndedPayload
from events.complaint import ComplaintOpened, ComplaintOpenedPayload, ComplaintResolved, ComplaintResolvedPayload
from events.customer import CustomerRegistered, CustomerRegisteredPayload
from events.email import EmailReceived, EmailSent
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.shipment import ShipmentPayload, ShipmentStatusChanged
from events.sla import SlaBreached, SlaBreachedPayload, SlaWarning, SlaWarningPayload

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)  # a Monday


def envelope(key: str, at: datetime, **contact: str) -> dict:
    return {
        "event_id": event_id_for("test", key),
        "occurred_at": at,
        "recorded_at": at,
        "source": "tests",
        "contact": ContactIdentifiers(**contact),
    }


def customer(
    ref: str = "K-1",
    name: str = "Erika Muster",
    email: str = "erika@example.org",
    segment: str | None = None,
    phone: str | None = None,
    order_ref: str | None = None,
) -> CustomerRegistered:
    payload = CustomerRegisteredPayload(
        customer_ref=ref,
        name=name,
        emails=(email,),
        phones=(phone,) if phone else (),
        order_refs=(order_ref,) if order_ref else (),
        segment=segment,
    )
    return CustomerRegistered(payload=payload, **envelope(f"customer:{ref}", T0 - timedelta(days=30), customer_ref=ref))


def opened(
    complaint_id: str = "cmp-1",
    email: str = "erika@example.org",
    at: datetime = T0,
    priority: str = "normal",
    segment: str | None = None,
    team: str | None = "support",
    subject: str = "Wrong item delivered",
) -> ComplaintOpened:
    payload = ComplaintOpenedPayload(
        complaint_id=complaint_id,
        origin="webform",
        subject=subject,
        priority=priority,
        segment=segment,
        team=team,
    )
    return ComplaintOpened(channel="webform", payload=payload, **envelope(f"opened:{complaint_id}", at, email=email))


def resolved(complaint_id: str = "cmp-1", at: datetime = T0 + timedelta(hours=1)) -> ComplaintResolved:
    return ComplaintResolved(
        channel="agent",
        payload=ComplaintResolvedPayload(complaint_id=complaint_id),
        **envelope(f"resolved:{complaint_id}", at),
    )


def warning(complaint_id: str = "cmp-1", at: datetime = T0 + timedelta(hours=3), kind: str = "first_response"):
    payload = SlaWarningPayload(
        complaint_id=complaint_id,
        kind=kind,
        due_at=at + timedelta(hours=1),
        policy="standard",
        policy_version=1,
        warn_point="80%",
    )
    return SlaWarning(payload=payload, **envelope(f"warning:{complaint_id}:{kind}", at))


def breached(complaint_id: str = "cmp-1", at: datetime = T0 + timedelta(hours=4), kind: str = "first_response"):
    payload = SlaBreachedPayload(complaint_id=complaint_id, kind=kind, due_at=at, policy="standard", policy_version=1)
    return SlaBreached(payload=payload, **envelope(f"breached:{complaint_id}:{kind}", at))


def shipment(
    status: str = "exception",
    order_ref: str = "A-1001",
    at: datetime = T0 + timedelta(hours=2),
    tracking: str = "00340434161094042557",
) -> ShipmentStatusChanged:
    payload = ShipmentPayload(provider="generic", tracking_number=tracking, status=status, message="Parcel damaged")
    return ShipmentStatusChanged(
        payload=payload,
        **envelope(f"shipment:{tracking}:{status}:{at}", at, order_ref=order_ref, tracking_number=tracking),
    )


def missed_call(
    phone: str = "+4930123456",
    call_id: str = "call-1",
    at: datetime = T0 + timedelta(hours=1),
    disposition: str = "missed",
) -> CallEnded:
    payload = CallEndedPayload(
        provider="cti", call_id=call_id, direction="inbound", from_number=phone, disposition=disposition
    )
    return CallEnded(payload=payload, **envelope(f"call:{call_id}", at, phone=phone))


def mail_in(n: int, email: str = "erika@example.org", at: datetime = T0) -> EmailReceived:
    return EmailReceived(payload=_mail_payload(n), **envelope(f"mail-in:{email}:{n}", at, email=email))


def mail_out(n: int, email: str = "erika@example.org", at: datetime = T0) -> EmailSent:
    return EmailSent(payload=_mail_payload(n), **envelope(f"mail-out:{email}:{n}", at, email=email))


def _mail_payload(n: int) -> dict:
    return {
        "position": {"mailbox": "support", "folder": "INBOX", "uid": n},
        "subject": f"Order question {n}",
        "thread_key": f"thread-{n}",
        "content_hash": f"{n:064x}",
    }


def hard_bounce(n: int, email: str = "erika@example.org", at: datetime = T0) -> EmailReceived:
    payload = {**_mail_payload(n), "classification": "bounce", "bounced_recipients": (email,),
               "subject": "Undelivered Mail Returned to Sender"}
    return EmailReceived(payload=payload, **envelope(f"bounce:{email}:{n}", at, email=email))

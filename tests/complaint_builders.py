"""Synthetic events for complaint and SLA tests: interactions and complaint lifecycles."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from events import complaint as c
from events.call import CallEnded, CallEndedPayload
from events.email import Address, EmailPayload, EmailReceived, EmailSent, MailboxPosition
from events.envelope import ActorRef, ContactIdentifiers
from events.ids import event_id_for
from events.webform import WebformPayload, WebformSubmitted

BERLIN = ZoneInfo("Europe/Berlin")
CUSTOMER = "erika.muster@example.org"


def berlin(text: str) -> datetime:
    """'2026-03-02 09:15' in Berlin wall time."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _lifecycle(cls, payload_cls, at: datetime, complaint_id: str, n: str, channel: str = "agent", **payload):
    return cls(
        event_id=event_id_for("test", cls.__name__, complaint_id, at.isoformat(), n),
        occurred_at=at, recorded_at=at, channel=channel, source="test",
        payload=payload_cls(complaint_id=complaint_id, **payload),
    )


def opened(at: datetime, complaint_id: str = "cmp-1", **payload) -> c.ComplaintOpened:
    payload.setdefault("origin", "webform")
    channel = payload.pop("channel", "webform")
    event = _lifecycle(c.ComplaintOpened, c.ComplaintOpenedPayload, at, complaint_id, "", channel=channel, **payload)
    return event.model_copy(update={"contact": ContactIdentifiers(email=CUSTOMER), "customer_id": "cust-1"})


def responded(at: datetime, complaint_id: str = "cmp-1", via: str = "email", **payload) -> c.ComplaintResponded:
    return _lifecycle(c.ComplaintResponded, c.ComplaintRespondedPayload, at, complaint_id, via, via=via, **payload)


def resolved(at: datetime, complaint_id: str = "cmp-1") -> c.ComplaintResolved:
    return _lifecycle(c.ComplaintResolved, c.ComplaintResolvedPayload, at, complaint_id, "")


def reopened(at: datetime, complaint_id: str = "cmp-1") -> c.ComplaintReopened:
    return _lifecycle(c.ComplaintReopened, c.ComplaintReopenedPayload, at, complaint_id, "", reason="customer_wrote_again")


def paused(at: datetime, complaint_id: str = "cmp-1", reason: str = "waiting_for_customer") -> c.ComplaintPaused:
    return _lifecycle(c.ComplaintPaused, c.ComplaintPausedPayload, at, complaint_id, reason, reason=reason)


def resumed(at: datetime, complaint_id: str = "cmp-1") -> c.ComplaintResumed:
    return _lifecycle(c.ComplaintResumed, c.ComplaintResumedPayload, at, complaint_id, "")


def priority_changed(at: datetime, priority: str, complaint_id: str = "cmp-1") -> c.ComplaintPriorityChanged:
    return _lifecycle(c.ComplaintPriorityChanged, c.ComplaintPriorityChangedPayload, at, complaint_id, priority,
                      priority=priority, changed_by=ActorRef(name="lena"))


# ---- interactions -----------------------------------------------------------------------------


def form(at: datetime, topic: str | None = "complaint", n: str = "1", historic: bool = False, email: str = CUSTOMER) -> WebformSubmitted:
    return WebformSubmitted(
        event_id=event_id_for("test-form", n), occurred_at=at, recorded_at=at, source="webform:contact",
        contact=ContactIdentifiers(email=email), customer_id="cust-1", historic=historic,
        payload=WebformPayload(form_id="contact", submission_id=f"sub-{n}", topic=topic, email=email,
                               subject="Parcel arrived damaged", message="The box was crushed."),
    )


def mail(
    at: datetime, *, thread: str = "thread-1", n: str = "1", sent: bool = False, subject: str = "Parcel arrived damaged",
    text: str = "Hello, my parcel arrived damaged.", to: str = "support@shop.example", classification: str = "normal",
    historic: bool = False, customer: str = CUSTOMER,
):
    cls = EmailSent if sent else EmailReceived
    sender, recipient = (to, customer) if sent else (customer, to)
    return cls(
        event_id=event_id_for("test-mail", n), occurred_at=at, recorded_at=at, source="imap:support",
        contact=ContactIdentifiers(email=customer), customer_id="cust-1", historic=historic,
        payload=EmailPayload(
            position=MailboxPosition(mailbox="support", folder="Sent" if sent else "INBOX"),
            message_id=f"<{n}@example.org>", sender=Address(email=sender), to=(Address(email=recipient),),
            subject=subject, text=text, classification=classification, thread_key=thread,
            content_hash=hashlib.sha256(n.encode()).hexdigest(),
        ),
    )


def call_ended(at: datetime, *, direction: str = "outbound", disposition: str = "answered", queue: str | None = None,
               n: str = "1", phone: str = "+4930123456") -> CallEnded:
    number = {"from_number": phone} if direction == "inbound" else {"to_number": phone}
    return CallEnded(
        event_id=event_id_for("test-call", n), occurred_at=at, recorded_at=at, source="cti",
        contact=ContactIdentifiers(phone=phone), customer_id="cust-1",
        payload=CallEndedPayload(provider="cti", call_id=f"call-{n}", direction=direction, disposition=disposition,
                                 queue=queue, users=("21",), **number),
    )

"""Demo traffic as providers would send it: sipgate-style CTI pushes, form posts, signed
generic shipping webhooks and RFC 5322 mails. Pure: a random generator and the clock go in,
scenarios (timed steps) come out; `services.demo.__main__` sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from services.demo.data import DemoCustomer

SUPPORT_ADDRESS = "support@demo.example"
SUPPORT_NUMBER = "4930555000"


@dataclass(frozen=True)
class HttpStep:
    delay: float
    path: str
    form: dict[str, str] | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MailStep:
    delay: float
    raw: bytes
    direction: str  # incoming | outgoing
    received_at: datetime | None = None  # when the mailbox got it; None: as it is sent


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[HttpStep | MailStep, ...]


_SUBJECTS = {
    "de": ["Frage zu meiner Bestellung {order}", "Lieferung {order} noch nicht da", "Rechnung {order}", "Adressänderung"],
    "en": ["Question about order {order}", "Where is my parcel {order}?", "Invoice {order}", "Change of address"],
}
_COMPLAINTS = {
    "de": ("Beschwerde: Ware beschädigt", "Die Lieferung {order} kam beschädigt an. Ich erwarte Ersatz."),
    "en": ("Complaint: damaged goods", "Order {order} arrived damaged. I expect a replacement."),
}

_OVERDUE = {
    "de": ("Beschwerde: Erstattung seit einer Woche offen",
           "Ich habe die beschädigte Ware {order} zurückgeschickt und warte seit einer Woche auf mein Geld."),
    "en": ("Complaint: refund still missing after a week",
           "I returned the damaged goods {order} and have been waiting a week for my money."),
}
OVERDUE_DAYS = 7


def cti_call(rng: random.Random, caller: str, seq: int, outcome: str) -> Scenario:
    call_id = f"demo-{seq}-{rng.randrange(10**8):08d}"
    base = {"callId": call_id, "from": caller.lstrip("+"), "to": SUPPORT_NUMBER, "direction": "in"}
    steps: list[HttpStep] = [HttpStep(0, "/webhooks/telephony/cti", form={**base, "event": "newCall", "user[]": "21"})]
    if outcome == "answered":
        steps.append(HttpStep(rng.uniform(2, 5), "/webhooks/telephony/cti",
                              form={**base, "event": "answer", "user": "21", "answeringNumber": "4930555021"}))
        steps.append(HttpStep(rng.uniform(5, 20), "/webhooks/telephony/cti", form={**base, "event": "hangup", "cause": "normalClearing"}))
    else:
        steps.append(HttpStep(rng.uniform(4, 10), "/webhooks/telephony/cti", form={**base, "event": "hangup", "cause": outcome}))
    return Scenario(f"call ({outcome})", tuple(steps))


def waiting_callback(rng: random.Random, customer: DemoCustomer, seq: int) -> Scenario:
    """A customer who called twice and reached nobody: once the grace time passed, the callback
    queue shows them with two calls."""
    first = cti_call(rng, customer.phones[0], seq, "cancel")
    second = cti_call(rng, customer.phones[0], seq + 1, "busy")
    return Scenario("waiting callback", first.steps + second.steps)


def web_form(customer: DemoCustomer, form_id: str, subject: str, message: str) -> Scenario:
    form = {"name": customer.name, "email": customer.emails[0], "subject": subject, "message": message,
            "order": customer.order_refs[0]}
    if form_id == "contact":
        form["newsletter"] = "on"  # the demo's contact form asks for marketing consent (see demo config)
    return Scenario(f"form {form_id}", (HttpStep(0, f"/webhooks/forms/{form_id}", form=form),))


def parcel(rng: random.Random, customer: DemoCustomer, secret: str, now: datetime, exception: bool) -> Scenario:
    tracking = f"00340434{rng.randrange(10**12):012d}"
    statuses = ["label_created", "in_transit", "out_for_delivery", "exception" if exception else "delivered"]
    steps = []
    for i, status in enumerate(statuses):
        body = json.dumps({
            "tracking_number": tracking, "carrier": "dhl", "status": status,
            "occurred_at": (now + timedelta(seconds=10 * i)).isoformat(),
            "order_ref": customer.order_refs[0], "customer_ref": customer.customer_ref, "email": customer.emails[0],
        }).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        steps.append(HttpStep(0 if i == 0 else rng.uniform(3, 8), "/webhooks/shipping/generic", body=body,
                              headers={"Content-Type": "application/json", "X-Touchpoint-Signature": signature}))
    return Scenario(f"parcel ({statuses[-1]})", tuple(steps))


def mail(sender: str, sender_name: str, to: str, subject: str, text: str, now: datetime,
         in_reply_to: str | None = None, html: str | None = None,
         attachment: tuple[str, bytes] | None = None) -> tuple[bytes, str]:
    message = EmailMessage()
    message["From"] = f"{sender_name} <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message_id = make_msgid(domain=sender.split("@")[1])
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if attachment:
        filename, data = attachment
        message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    return bytes(message), message_id


def html_version(greeting: str, subject: str, name: str) -> str:
    """A signature with a remote logo, as many mail clients send: the UI blocks it by default."""
    return (f"<p>{greeting},</p><p><b>{subject}</b>.</p><p>{name}</p>"
            '<p><img src="https://images.example.com/signature-logo.png" alt="logo" width="120"></p>')


def mail_thread(rng: random.Random, customer: DemoCustomer, now: datetime) -> Scenario:
    language = customer.language
    subject = rng.choice(_SUBJECTS[language]).format(order=customer.order_refs[0])
    greeting = "Hallo" if language == "de" else "Hello"
    rich = rng.random() < 0.5
    raw, message_id = mail(customer.emails[0], customer.name, SUPPORT_ADDRESS, subject,
                           f"{greeting},\n\n{subject}.\n\n{customer.name}", now,
                           html=html_version(greeting, subject, customer.name) if rich else None,
                           attachment=(f"{customer.order_refs[0]}.pdf", b"%PDF-1.4\n% synthetic demo document\n") if rich else None)
    steps: list[HttpStep | MailStep] = [MailStep(0, raw, "incoming")]
    if rng.random() < 0.6:
        reply, _ = mail(SUPPORT_ADDRESS, "Support", customer.emails[0], f"Re: {subject}",
                        f"{greeting} {customer.name},\n\n" + ("wir kümmern uns darum." if language == "de" else "we are on it."),
                        now + timedelta(seconds=30), in_reply_to=message_id)
        steps.append(MailStep(rng.uniform(10, 30), reply, "outgoing"))
    return Scenario("mail thread", tuple(steps))


def overdue_complaint(customer: DemoCustomer, now: datetime) -> Scenario:
    """A complaint mail that arrived a week ago and was never answered: its first response is
    long overdue on the office calendar, so the board shows a breached clock from the start."""
    subject, text = _OVERDUE[customer.language]
    received = now - timedelta(days=OVERDUE_DAYS)
    raw, _ = mail(customer.emails[0], customer.name, SUPPORT_ADDRESS, subject, text.format(order=customer.order_refs[0]),
                  received)
    return Scenario("complaint (breached)", (MailStep(0, raw, "incoming", received_at=received),))


def next_scenario(rng: random.Random, customers: list[DemoCustomer], now: datetime, seq: int,
                  shipping_secret: str, waiting: frozenset[str] = frozenset()) -> Scenario:
    """`waiting`: numbers that wait for a callback; their owners do not call again."""
    customer = rng.choice(customers)
    roll = rng.random()
    if roll < 0.30:
        stranger = rng.random() < 0.15 or bool(waiting & set(customer.phones))
        caller = f"+49157{rng.randrange(10**7):07d}" if stranger else rng.choice(customer.phones)
        outcome = rng.choices(["answered", "cancel", "noAnswer", "busy"], weights=[6, 2, 2, 1])[0]
        return cti_call(rng, caller, seq, outcome)
    if roll < 0.55:
        return mail_thread(rng, customer, now)
    if roll < 0.70:
        subject = rng.choice(_SUBJECTS[customer.language]).format(order=customer.order_refs[0])
        return web_form(customer, "contact", subject, subject)
    if roll < 0.80:
        subject, text = _COMPLAINTS[customer.language]
        return web_form(customer, "complaint", subject, text.format(order=customer.order_refs[0]))
    return parcel(rng, customer, shipping_secret, now, exception=rng.random() < 0.25)

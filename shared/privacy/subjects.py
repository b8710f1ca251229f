"""Whose key protects an event.

A subject is a customer or an unmatched contact. At capture time an adapter knows only the
contact, so captured events are sealed under the key of their contact: its normalised email
address, else its E.164 number, as a blind index (`contact:<hmac>`). Events made about a
customer directly (master data, links, agent actions without a contact) are sealed under the
customer's key (`customer:<hmac of customer_ref>`, or `customer-id:<id>` when only the id is
known). Erasing a customer destroys its own keys and the keys of every contact identifier
linked to it; erasing an unmatched contact destroys the keys of that one identifier.

Events naming nobody go under `none`, shredded only by retention. Keys are per period: the
calendar year the event occurred in, and its retention class when `[privacy.retention]` has one
for its type (`2020|email.*`, see `retention.py`), so retention can shred one class of one year
and keep the rest."""

from __future__ import annotations

from datetime import UTC

from events.envelope import Event
from shared.privacy.master import MasterKey
from shared.privacy.retention import RetentionRules

NO_RULES = RetentionRules()

NOBODY = "none"


def contact_subject(master: MasterKey, kind: str, value: str) -> str:
    return f"contact:{master.blind_index(kind, value)}"


def customer_subject(master: MasterKey, customer_ref: str) -> str:
    return f"customer:{master.blind_index('customer_ref', customer_ref)}"


def customer_id_subject(customer_id: str) -> str:
    return f"customer-id:{customer_id}"


def subject_of(master: MasterKey, event: Event) -> str:
    contact = event.contact
    if contact.email:
        return contact_subject(master, "email", contact.email)
    if contact.phone:
        return contact_subject(master, "phone", contact.phone)
    customer_ref = contact.customer_ref or event.payload_value("customer_ref")
    if isinstance(customer_ref, str) and customer_ref:
        return customer_subject(master, customer_ref)
    if event.customer_id:
        return customer_id_subject(event.customer_id)
    return NOBODY


def period_of(event: Event, rules: RetentionRules = NO_RULES) -> str:
    """Year-only periods keep the year of the event's own offset (as keys were always made); a
    retention class counts in UTC years, as the read models that redact by year do."""
    if rules.class_of(event.type) is None:
        return str(event.occurred_at.year)
    return rules.period_of(event.type, event.occurred_at.astimezone(UTC).year)


def record_key(master: MasterKey, event: Event) -> str:
    """The Kafka key: the event's partition key with personal identifiers blinded, so that the
    broker's files hold no address or number, and one contact still stays in one partition."""
    key = event.partition_key()
    kind, _, value = key.partition(":")
    if kind in ("email", "phone"):
        return f"{kind}#{master.blind_index(kind, value)}"
    return key

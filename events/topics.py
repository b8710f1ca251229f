"""Kafka topics: which event type lives where. Names are prefixed with
`TOUCHPOINT_TOPIC_PREFIX` (default `touchpoint.`)."""

from __future__ import annotations

from enum import StrEnum

from events.registry import EVENT_TYPES


class Topic(StrEnum):
    EMAIL = "email"
    CALLS = "calls"
    WEBFORMS = "webforms"
    SHIPMENTS = "shipments"
    CUSTOMERS = "customers"
    COMPLAINTS = "complaints"
    ESCALATIONS = "escalations"
    CALLBACKS = "callbacks"
    CONSENTS = "consents"  # consent per purpose: its own record, read by few (see events/consent.py)
    AUDIT = "audit"


TOPIC_OF_TYPE: dict[str, Topic] = {
    "email.received": Topic.EMAIL,
    "email.sent": Topic.EMAIL,
    "call.started": Topic.CALLS,
    "call.answered": Topic.CALLS,
    "call.ended": Topic.CALLS,
    "webform.submitted": Topic.WEBFORMS,
    "shipment.status_changed": Topic.SHIPMENTS,
    "customer.registered": Topic.CUSTOMERS,
    "contact.linked": Topic.CUSTOMERS,
    "contact.unlinked": Topic.CUSTOMERS,
    "customer.merged": Topic.CUSTOMERS,
    "customer.unmerged": Topic.CUSTOMERS,
    "customer.erased": Topic.CUSTOMERS,
    "privacy.expired": Topic.CUSTOMERS,
    "complaint.opened": Topic.COMPLAINTS,
    "complaint.responded": Topic.COMPLAINTS,
    "complaint.resolved": Topic.COMPLAINTS,
    "complaint.reopened": Topic.COMPLAINTS,
    "complaint.paused": Topic.COMPLAINTS,
    "complaint.resumed": Topic.COMPLAINTS,
    "complaint.priority_changed": Topic.COMPLAINTS,
    "sla.warning": Topic.COMPLAINTS,
    "sla.breached": Topic.COMPLAINTS,
    "escalation.notified": Topic.ESCALATIONS,
    "escalation.failed": Topic.ESCALATIONS,
    "callback.opened": Topic.CALLBACKS,
    "callback.attempted": Topic.CALLBACKS,
    "callback.closed": Topic.CALLBACKS,
    "callback.overdue": Topic.CALLBACKS,
    "consent.given": Topic.CONSENTS,
    "consent.withdrawn": Topic.CONSENTS,
    "customer.accessed": Topic.AUDIT,
}

assert set(TOPIC_OF_TYPE) == set(EVENT_TYPES), "every event type needs a topic"

# Who read whose personal data: kept apart from the interactions, which the projector folds.
ACCESS_TOPICS: tuple[Topic, ...] = (Topic.AUDIT,)

# The log of what happened with customers: the system of record, never expired.
EVENT_TOPICS: tuple[Topic, ...] = tuple(topic for topic in Topic if topic not in ACCESS_TOPICS)


def topic_name(prefix: str, topic: Topic) -> str:
    return f"{prefix}{topic.value}"


def topic_for(prefix: str, event_type: str) -> str:
    try:
        return topic_name(prefix, TOPIC_OF_TYPE[event_type])
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}") from None


def deadletter_topic(prefix: str, service: str) -> str:
    """One dead letter topic per service: `touchpoint.deadletter.projector`, ..."""
    return f"{prefix}deadletter.{service}"

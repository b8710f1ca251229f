"""The events the notifier reports back: `escalation.notified` and `escalation.failed`.
Their ids derive from the notification id, so a report published twice is one event. They
carry the customer's identifiers, so they show on the customer's timeline and the complaint."""

from __future__ import annotations

from datetime import datetime

from events.envelope import ContactIdentifiers
from events.escalation import (
    EscalationFailed,
    EscalationFailedPayload,
    EscalationNotified,
    EscalationNotifiedPayload,
)
from events.ids import event_id_for
from services.notifier.routing import Notification

SOURCE = "notifier"


def _contact(notification: Notification) -> ContactIdentifiers:
    trigger = notification.trigger
    email = trigger.customer_email.strip().lower() if trigger.customer_email else None
    return ContactIdentifiers(
        customer_ref=trigger.customer_ref,
        email=email if email and "@" in email else None,
    )


def _common(notification: Notification) -> dict[str, object]:
    trigger = notification.trigger
    return {
        "notification_id": notification.notification_id,
        "trigger_event_id": trigger.event_id,
        "trigger_type": trigger.type,
        "complaint_id": trigger.complaint.complaint_id if trigger.complaint else None,
        "rule": notification.rule,
        "level": notification.level,
        "target_kind": notification.target_kind,
        "target": notification.target,
    }


def _envelope(notification: Notification, at: datetime) -> dict[str, object]:
    trigger = notification.trigger
    return {
        "occurred_at": at,
        "recorded_at": at,
        "source": SOURCE,
        "contact": _contact(notification),
        "customer_id": trigger.complaint.customer_id if trigger.complaint else None,
        # the report continues the chain of the event that called for it
        "correlation_id": trigger.correlation_id or trigger.event_id,
        "causation_id": trigger.event_id,
    }


def notified_event(
    notification: Notification, attempts: int, message_id: str | None, at: datetime, in_doubt: bool = False
) -> EscalationNotified:
    payload = EscalationNotifiedPayload(
        **_common(notification), attempts=max(1, attempts), message_id=message_id, in_doubt=in_doubt
    )
    return EscalationNotified(
        event_id=event_id_for("escalation.notified", notification.notification_id),
        payload=payload,
        **_envelope(notification, at),
    )


def failed_event(notification: Notification, attempts: int, error: str, at: datetime) -> EscalationFailed:
    payload = EscalationFailedPayload(**_common(notification), attempts=max(1, attempts), error=error[:2000])
    return EscalationFailed(
        event_id=event_id_for("escalation.failed", notification.notification_id),
        payload=payload,
        **_envelope(notification, at),
    )

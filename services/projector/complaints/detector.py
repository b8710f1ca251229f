"""Which interactions open, answer, resume or reopen a complaint: a pure function of one event,
the complaints it could belong to and the `[sla]` configuration.

Derived events take their id from the triggering event (`event_id_for(type, trigger id)`),
carry its correlation id (caused by it), and copy its timestamps, so replaying the log derives identical events that deduplicate
downstream. Historic events, auto-replies and bounces never derive anything."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from events.call import CallEnded
from events.complaint import (
    ComplaintOpened,
    ComplaintOpenedPayload,
    ComplaintReopened,
    ComplaintReopenedPayload,
    ComplaintResponded,
    ComplaintRespondedPayload,
    ComplaintResumed,
    ComplaintResumedPayload,
)
from events.email import EmailPayload, EmailReceived, EmailSent
from events.envelope import ActorRef, Event
from events.ids import event_id_for
from events.webform import WebformSubmitted
from services.projector.complaints.policy import SlaRules
from shared.config import ComplaintMailRule, Sla

SOURCE = "projector:complaints"
COMPLAINT_TOPIC = "complaint"


@dataclass(frozen=True)
class KnownComplaint:
    """What the detector needs to know about an existing complaint."""

    complaint_id: str
    status: Literal["open", "paused", "resolved"]
    opened_at: datetime
    responded: bool = False
    resolved_at: datetime | None = None
    thread_keys: frozenset[str] = frozenset()
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None

    def concerns(self, event: Event) -> bool:
        """The event's contact is this complaint's customer."""
        pairs = ((self.customer_id, event.customer_id), (self.email, event.contact.email), (self.phone, event.contact.phone))
        return any(mine is not None and mine == theirs for mine, theirs in pairs)


@dataclass(frozen=True)
class DetectorConfig:
    sla: Sla = field(default_factory=Sla)
    rules: SlaRules | None = None
    segment: str | None = None  # of the customer behind the event being looked at


def complaint_id_for(trigger_event_id: object) -> str:
    return str(event_id_for("complaint", trigger_event_id))


def detect(
    event: Event, known: Sequence[KnownComplaint], config: DetectorConfig = DetectorConfig(), segment: str | None = None
) -> list[Event]:
    """The complaint events `event` causes, given the complaints it may concern and the
    customer's segment (for the policy of a complaint it opens)."""
    if event.historic:
        return []
    config = replace(config, segment=segment)
    match event:
        case WebformSubmitted() if (event.payload.topic or "").strip().lower() == COMPLAINT_TOPIC:
            subject = event.payload.subject or event.payload.message or ""
            return [_opened(event, "webform", subject[:200], config)]
        case EmailReceived() if event.payload.classification == "normal":
            return _customer_mail(event, known, config)
        case EmailSent() if "email" in config.sla.first_response_counts:
            return _agent_mail(event, known)
        case CallEnded() if event.payload.disposition == "answered":
            return _call(event, known, config)
    return []


# ---- mail -----------------------------------------------------------------------------------


def _customer_mail(event: EmailReceived, known: Sequence[KnownComplaint], config: DetectorConfig) -> list[Event]:
    thread = event.payload.thread_key
    in_thread = sorted((c for c in known if thread in c.thread_keys), key=lambda c: c.opened_at, reverse=True)
    current = next((c for c in in_thread if c.status != "resolved"), None)
    if current is not None:
        # a follow-up joins the open complaint; it resumes one that waited for the customer
        return [_resumed(event, current.complaint_id)] if current.status == "paused" else []
    window = timedelta(days=config.sla.reopen_within_days)
    recent = next((c for c in in_thread if c.resolved_at is not None and event.occurred_at - c.resolved_at <= window), None)
    if recent is not None:
        return [_reopened(event, recent.complaint_id, "customer_wrote_again")]
    rule = next((r for r in config.sla.complaint_mail_rules if mail_rule_matches(r, event.payload)), None)
    if rule is None:
        return []
    return [_opened(event, "email", event.payload.subject, config, thread_key=thread, priority=rule.priority, team=rule.team)]


def mail_rule_matches(rule: ComplaintMailRule, mail: EmailPayload) -> bool:
    """Every condition the rule sets must hold: a recipient among `to`, the subject pattern,
    one of the keywords in subject or text (case-insensitive)."""
    if rule.to:
        recipients = {address.email.lower() for address in (*mail.to, *mail.cc)}
        if not recipients & {address.strip().lower() for address in rule.to}:
            return False
    if rule.subject_pattern is not None and not _pattern(rule.subject_pattern).search(mail.subject or ""):
        return False
    if rule.keywords:
        text = f"{mail.subject or ''}\n{mail.text or ''}".lower()
        if not any(keyword.lower() in text for keyword in rule.keywords):
            return False
    return True


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


def _agent_mail(event: EmailSent, known: Sequence[KnownComplaint]) -> list[Event]:
    waiting = [c for c in known if c.status != "resolved" and not c.responded and c.opened_at <= event.occurred_at]
    in_thread = [c for c in waiting if event.payload.thread_key in c.thread_keys]
    recipients = {address.email for address in (*event.payload.to, *event.payload.cc)}
    to_customer = [c for c in waiting if c.email is not None and c.email in recipients]
    target = _oldest(in_thread) or _oldest(to_customer)
    if target is None:
        return []
    return [_responded(event, target.complaint_id, "email", thread_key=event.payload.thread_key)]


# ---- calls ----------------------------------------------------------------------------------


def _call(event: CallEnded, known: Sequence[KnownComplaint], config: DetectorConfig) -> list[Event]:
    facts = event.payload
    mine = [c for c in known if c.concerns(event) and c.status != "resolved" and c.opened_at <= event.occurred_at]
    if facts.direction == "outbound":
        if "call" not in config.sla.first_response_counts:
            return []
        target = _oldest([c for c in mine if not c.responded])
        return [_responded(event, target.complaint_id, "call")] if target else []
    if facts.queue is None or facts.queue not in config.sla.complaint_call_queues:
        return []
    current = _oldest(mine)
    if current is not None:
        return [_resumed(event, current.complaint_id)] if current.status == "paused" else []
    return [_opened(event, "call", f"call in queue {facts.queue}", config)]


def _oldest(candidates: Sequence[KnownComplaint]) -> KnownComplaint | None:
    return min(candidates, key=lambda c: c.opened_at, default=None)


# ---- derived events -------------------------------------------------------------------------


def _envelope(event_type: str, trigger: Event, complaint_id: str) -> dict:
    return {
        "event_id": event_id_for(event_type, trigger.event_id),
        "occurred_at": trigger.occurred_at,
        "recorded_at": trigger.recorded_at,
        "channel": trigger.channel,
        "source": SOURCE,
        "contact": trigger.contact,
        "customer_id": trigger.customer_id,
        # the complaint continues the chain its trigger belongs to
        "correlation_id": trigger.correlation_id or str(trigger.event_id),
        "causation_id": str(trigger.event_id),
    }


def _opened(
    trigger: Event, origin: str, subject: str, config: DetectorConfig,
    thread_key: str | None = None, priority: str = "normal", team: str | None = None,
) -> ComplaintOpened:
    complaint_id = complaint_id_for(trigger.event_id)
    policy = config.rules.select(priority, config.segment, trigger.channel) if config.rules else None
    payload = ComplaintOpenedPayload(
        complaint_id=complaint_id, origin=origin, origin_event_id=str(trigger.event_id), subject=subject,  # type: ignore[arg-type]
        priority=priority, segment=config.segment, team=team, policy=policy.name if policy else None, thread_key=thread_key,  # type: ignore[arg-type]
        opened_by=ActorRef(kind="customer", name=trigger.source),
    )
    return ComplaintOpened(**_envelope("complaint.opened", trigger, complaint_id), payload=payload)


def _responded(trigger: Event, complaint_id: str, via: str, thread_key: str | None = None) -> ComplaintResponded:
    agent = next(iter(getattr(trigger.payload, "users", ()) or ()), None)
    payload = ComplaintRespondedPayload(
        complaint_id=complaint_id, via=via, origin_event_id=str(trigger.event_id), thread_key=thread_key,  # type: ignore[arg-type]
        responded_by=ActorRef(kind="agent", name=agent) if agent else None,
    )
    return ComplaintResponded(**_envelope("complaint.responded", trigger, complaint_id), payload=payload)


def _resumed(trigger: Event, complaint_id: str) -> ComplaintResumed:
    payload = ComplaintResumedPayload(
        complaint_id=complaint_id, origin_event_id=str(trigger.event_id), resumed_by=ActorRef(kind="customer", name=trigger.source)
    )
    return ComplaintResumed(**_envelope("complaint.resumed", trigger, complaint_id), payload=payload)


def _reopened(trigger: Event, complaint_id: str, reason: str) -> ComplaintReopened:
    payload = ComplaintReopenedPayload(
        complaint_id=complaint_id, reason=reason, origin_event_id=str(trigger.event_id),
        reopened_by=ActorRef(kind="customer", name=trigger.source),
    )
    return ComplaintReopened(**_envelope("complaint.reopened", trigger, complaint_id), payload=payload)

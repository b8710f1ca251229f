"""What a complaint is about, folded from its events (the clock is in `clock.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from events.envelope import Event
from services.projector.complaints.clock import ClockState, sla_clock
from services.projector.complaints.policy import Policy, SlaRules


@dataclass(frozen=True)
class ComplaintFacts:
    complaint_id: str
    origin: str
    channel: str
    subject: str
    priority: str
    segment: str | None
    team: str | None
    opened_at: datetime
    customer_id: str | None
    email: str | None
    phone: str | None
    customer_ref: str | None
    reopen_count: int
    thread_keys: frozenset[str]
    correlation_id: str | None = None  # of the chain that opened it; timer events carry it on


def facts_of(events: Sequence[Event]) -> ComplaintFacts:
    ordered = sorted(events, key=lambda e: e.occurred_at)
    opened = next((e for e in ordered if e.type == "complaint.opened"), None)
    if opened is None:
        raise ValueError("a complaint starts with complaint.opened")
    payload = opened.payload
    priority = payload.priority
    threads = {payload.thread_key} if payload.thread_key else set()
    reopens = 0
    for event in ordered:
        if event.type == "complaint.priority_changed":
            priority = event.payload.priority
        elif event.type == "complaint.reopened":
            reopens += 1
        elif event.type == "complaint.responded" and event.payload.thread_key:
            threads.add(event.payload.thread_key)
    return ComplaintFacts(
        complaint_id=payload.complaint_id, origin=payload.origin, channel=opened.channel, subject=payload.subject,
        priority=priority, segment=payload.segment, team=payload.team, opened_at=opened.occurred_at,
        customer_id=opened.customer_id, email=opened.contact.email, phone=opened.contact.phone,
        customer_ref=opened.contact.customer_ref, reopen_count=reopens, thread_keys=frozenset(threads),
        correlation_id=opened.correlation_id,
    )


def policy_for(facts: ComplaintFacts, rules: SlaRules) -> Policy | None:
    """The policy that applies now: selected by the current priority, segment and channel."""
    return rules.select(facts.priority, facts.segment, facts.channel)


def clock_of(events: Sequence[Event], rules: SlaRules, now: datetime) -> tuple[ComplaintFacts, ClockState]:
    """Facts and clocks as of `now`, or as of the latest event when a source clock ran ahead:
    what was recorded has happened."""
    facts = facts_of(events)
    now = max([now, *(e.occurred_at for e in events)])
    policy = policy_for(facts, rules)
    return facts, sla_clock(events, policy, policy.calendar if policy else None, now)

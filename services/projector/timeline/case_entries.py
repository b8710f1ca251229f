"""Timeline entries for the complaint lifecycle, SLA timers and escalations: one entry per
event, so an agent sees on the customer's timeline when a case opened, was answered,
breached its SLA or was escalated."""

from __future__ import annotations

from events.complaint import (
    ComplaintOpened,
    ComplaintPaused,
    ComplaintPriorityChanged,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintResponded,
    ComplaintResumed,
)
from events.envelope import ActorRef, Event
from events.escalation import EscalationFailed, EscalationNotified
from events.sla import SlaBreached, SlaWarning
from services.projector.timeline.entries import new_entry
from services.projector.timeline.rows import EntryRow

CaseEvent = (
    ComplaintOpened | ComplaintResponded | ComplaintResolved | ComplaintReopened | ComplaintPaused
    | ComplaintResumed | ComplaintPriorityChanged | SlaWarning | SlaBreached | EscalationNotified | EscalationFailed
)


def by(actor: ActorRef | None) -> str:
    return f" by {actor.name}" if actor else ""


def case_summary(event: Event) -> str:
    match event:
        case ComplaintOpened(payload=p):
            return f"Complaint opened ({p.priority}): {p.subject or '(no subject)'}"
        case ComplaintResponded(payload=p):
            return f"Complaint answered via {p.via}{by(p.responded_by)}"
        case ComplaintResolved(payload=p):
            return f"Complaint resolved{by(p.resolved_by)}"
        case ComplaintReopened(payload=p):
            return f"Complaint reopened{by(p.reopened_by)}: {p.reason}"
        case ComplaintPaused(payload=p):
            return f"Complaint paused{by(p.paused_by)}: {p.reason.replace('_', ' ')}"
        case ComplaintResumed(payload=p):
            return f"Complaint resumed{by(p.resumed_by)}"
        case ComplaintPriorityChanged(payload=p):
            return f"Complaint priority set to {p.priority}{by(p.changed_by)}"
        case SlaWarning(payload=p):
            return f"SLA warning ({p.warn_point}): {p.kind.replace('_', ' ')} due {p.due_at:%Y-%m-%d %H:%M %Z}"
        case SlaBreached(payload=p):
            return f"SLA breached: {p.kind.replace('_', ' ')} was due {p.due_at:%Y-%m-%d %H:%M %Z}"
        case EscalationNotified(payload=p):
            return f"Escalated to {p.target} (rule {p.rule}, level {p.level})"
        case EscalationFailed(payload=p):
            return f"Escalation to {p.target} failed: {p.error}"
    raise TypeError(f"not a case event: {event.type}")


def case_entry(event: CaseEvent) -> EntryRow | None:
    """None for an escalation that names no complaint and no contact (nowhere to show it)."""
    complaint_id = event.payload_value("complaint_id")
    details = event.payload.model_dump(mode="json")
    if complaint_id is None and event.contact.key() is None:
        return None
    return new_entry(event, f"event:{event.event_id}", case_summary(event), details, None, complaint_id=complaint_id)

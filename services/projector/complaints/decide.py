"""What an agent's action on a complaint records: `decide(command, history, now) -> events`.

Pure: the complaint's recorded events and the instant go in, the events to publish come out,
or `Refused` says why the action does not apply. The JSON API and the web pages both come
here (through `commands.execute`); only the complaints processor writes what follows from
the events. Event ids come with the command, so a retried action (same idempotency key)
decides the same event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from events import complaint as c
from events.envelope import ActorRef, ContactIdentifiers, Event
from services.projector.complaints.clock import sla_clock

SOURCE = "api:complaints"
Priority = Literal["low", "normal", "high", "urgent"]


class Refused(Exception):
    """The action does not apply to the complaint as recorded: `code` for machines, `detail` for people."""

    def __init__(self, code: str, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


@dataclass(frozen=True)
class Action:
    complaint_id: str
    actor: ActorRef
    event_id: uuid.UUID


@dataclass(frozen=True)
class Respond(Action):
    note: str | None = None


@dataclass(frozen=True)
class Resolve(Action):
    note: str | None = None


@dataclass(frozen=True)
class Reopen(Action):
    note: str | None = None


@dataclass(frozen=True)
class Pause(Action):
    reason: str = "waiting_for_customer"


@dataclass(frozen=True)
class Resume(Action):
    pass


@dataclass(frozen=True)
class ChangePriority(Action):
    priority: Priority = "normal"


@dataclass(frozen=True)
class Open(Action):
    """Opening by hand; `policy` is the SLA policy the rules select for it."""

    subject: str = ""
    contact: ContactIdentifiers = ContactIdentifiers()
    customer_id: str | None = None
    priority: Priority = "normal"
    team: str | None = None
    segment: str | None = None
    policy: str | None = None


@dataclass(frozen=True)
class Settings:
    """What the configuration says about agent actions ([sla] first_response_counts)."""

    agent_action_is_a_response: bool = True


def decide(command: Action, history: Sequence[Event], now: datetime, settings: Settings = Settings()) -> list[Event]:
    if isinstance(command, Open):
        return _open(command, history, now)
    opening = next((e for e in history if e.type == "complaint.opened"), None)
    if opening is None:
        raise Refused("complaint_not_found", f"no complaint {command.complaint_id!r}; list them with GET /api/complaints", 404)
    clock = sla_clock(history, None, None, max([now, *(e.occurred_at for e in history)]))
    status, responded = clock.status, clock.responded_at is not None
    event = _decided(command, status, responded, _priority(history), settings)
    envelope = {"event_id": command.event_id, "occurred_at": now, "recorded_at": now, "channel": "agent",
                "source": SOURCE, "correlation_id": opening.correlation_id or command.complaint_id}
    return [event(**envelope)]


def _decided(command: Action, status: str, responded: bool, priority: str, settings: Settings):  # type: ignore[no-untyped-def]
    """The event class with its payload bound, once the action is allowed."""
    ref: dict[str, Any] = {"complaint_id": command.complaint_id}
    match command:
        case Respond():
            _require(settings.agent_action_is_a_response, "not_counted", "agent actions do not count as a first "
                     "response here ([sla] first_response_counts); reply by mail or call the customer")
            _require(not responded, "already_responded", "the first response was already given")
            _require(status != "resolved", "resolved", "the complaint is resolved; reopen it first")
            payload = c.ComplaintRespondedPayload(**ref, via="agent", responded_by=command.actor, note=command.note)
            return _bind(c.ComplaintResponded, payload)
        case Resolve():
            _require(status != "resolved", "already_resolved", "the complaint is resolved already")
            return _bind(c.ComplaintResolved, c.ComplaintResolvedPayload(**ref, resolved_by=command.actor, note=command.note))
        case Reopen():
            _require(status == "resolved", "not_resolved", "only a resolved complaint can be reopened")
            payload = c.ComplaintReopenedPayload(**ref, reason=command.note or "reopened_by_agent", reopened_by=command.actor)
            return _bind(c.ComplaintReopened, payload)
        case Pause():
            _require(status == "open", "not_open", f"only an open complaint can be paused; it is {status}")
            return _bind(c.ComplaintPaused, c.ComplaintPausedPayload(**ref, reason=command.reason, paused_by=command.actor))
        case Resume():
            _require(status == "paused", "not_paused", "only a paused complaint can be resumed")
            return _bind(c.ComplaintResumed, c.ComplaintResumedPayload(**ref, resumed_by=command.actor))
        case ChangePriority():
            _require(priority != command.priority, "unchanged", f"the priority is {command.priority} already")
            payload = c.ComplaintPriorityChangedPayload(**ref, priority=command.priority, changed_by=command.actor)
            return _bind(c.ComplaintPriorityChanged, payload)
    raise TypeError(f"not a complaint action: {command!r}")


def _open(command: Open, history: Sequence[Event], now: datetime) -> list[Event]:
    recorded = next((e for e in history if e.type == "complaint.opened"), None)
    if recorded is not None:
        return [recorded]  # a retry of the same opening: the same event again, deduplicated downstream
    payload = c.ComplaintOpenedPayload(
        complaint_id=command.complaint_id, origin="agent", subject=command.subject, priority=command.priority,
        segment=command.segment, team=command.team, policy=command.policy, opened_by=command.actor)
    return [c.ComplaintOpened(event_id=command.event_id, occurred_at=now, recorded_at=now, channel="agent", source=SOURCE,
                              correlation_id=command.complaint_id, contact=command.contact,
                              customer_id=command.customer_id, payload=payload)]


def _priority(history: Sequence[Event]) -> str:
    priority = "normal"
    for event in history:
        if event.type in ("complaint.opened", "complaint.priority_changed"):
            priority = event.payload.priority
    return priority


def _bind(cls, payload):  # type: ignore[no-untyped-def]
    return lambda **envelope: cls(**envelope, payload=payload)


def _require(condition: bool, code: str, detail: str) -> None:
    if not condition:
        raise Refused(code, detail)

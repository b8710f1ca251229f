"""The complaint lifecycle. All events of one complaint share its id as Kafka key, so they
stay in one partition and in order; the SLA clock is a fold over them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from events.envelope import ActorRef, Event, Frozen
from events.pii import PiiStr

Priority = Literal["low", "normal", "high", "urgent"]
ComplaintOrigin = Literal["webform", "email", "call", "agent"]


class ComplaintRef(Frozen):
    complaint_id: str = Field(min_length=1)


class ComplaintOpenedPayload(ComplaintRef):
    origin: ComplaintOrigin
    origin_event_id: str | None = Field(default=None, description="the interaction that opened it")
    subject: PiiStr = ""
    priority: Priority = "normal"
    segment: str | None = None
    team: str | None = None
    policy: str | None = Field(default=None, description="SLA policy name chosen when opened")
    thread_key: str | None = None
    opened_by: ActorRef | None = None


class ComplaintRespondedPayload(ComplaintRef):
    via: Literal["email", "call", "agent"]
    origin_event_id: str | None = None
    responded_by: ActorRef | None = None
    note: PiiStr | None = None
    thread_key: str | None = Field(default=None, description="the mail thread the response went out in")


class ComplaintResolvedPayload(ComplaintRef):
    resolved_by: ActorRef | None = None
    note: PiiStr | None = None


class ComplaintReopenedPayload(ComplaintRef):
    reason: str
    origin_event_id: str | None = None
    reopened_by: ActorRef | None = None


class ComplaintPausedPayload(ComplaintRef):
    reason: str = "waiting_for_customer"
    paused_by: ActorRef | None = None


class ComplaintResumedPayload(ComplaintRef):
    origin_event_id: str | None = None
    resumed_by: ActorRef | None = None


class ComplaintPriorityChangedPayload(ComplaintRef):
    priority: Priority
    changed_by: ActorRef | None = None


class _ComplaintEvent(Event):
    def partition_key(self) -> str:
        return f"complaint:{self.payload.complaint_id}"


class ComplaintOpened(_ComplaintEvent):
    type: Literal["complaint.opened"] = "complaint.opened"
    schema_version: Literal[1] = 1
    payload: ComplaintOpenedPayload


class ComplaintResponded(_ComplaintEvent):
    type: Literal["complaint.responded"] = "complaint.responded"
    schema_version: Literal[1] = 1
    payload: ComplaintRespondedPayload


class ComplaintResolved(_ComplaintEvent):
    type: Literal["complaint.resolved"] = "complaint.resolved"
    schema_version: Literal[1] = 1
    payload: ComplaintResolvedPayload


class ComplaintReopened(_ComplaintEvent):
    type: Literal["complaint.reopened"] = "complaint.reopened"
    schema_version: Literal[1] = 1
    payload: ComplaintReopenedPayload


class ComplaintPaused(_ComplaintEvent):
    type: Literal["complaint.paused"] = "complaint.paused"
    schema_version: Literal[1] = 1
    payload: ComplaintPausedPayload


class ComplaintResumed(_ComplaintEvent):
    type: Literal["complaint.resumed"] = "complaint.resumed"
    schema_version: Literal[1] = 1
    payload: ComplaintResumedPayload


class ComplaintPriorityChanged(_ComplaintEvent):
    type: Literal["complaint.priority_changed"] = "complaint.priority_changed"
    schema_version: Literal[1] = 1
    payload: ComplaintPriorityChangedPayload

"""SLA timers fired for a complaint: at most one event per complaint, clock kind and point
(the event id is derived from exactly those), however often the projector replays."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.complaint import ComplaintRef, _ComplaintEvent

ClockKind = Literal["first_response", "resolution"]


class SlaPayload(ComplaintRef):
    kind: ClockKind
    due_at: AwareDatetime
    policy: str
    policy_version: int = Field(ge=1)


class SlaWarningPayload(SlaPayload):
    warn_point: str = Field(description='the configured point that fired, e.g. "80%" or "30m"')


class SlaBreachedPayload(SlaPayload):
    pass


class SlaWarning(_ComplaintEvent):
    type: Literal["sla.warning"] = "sla.warning"
    schema_version: Literal[1] = 1
    channel: Literal["system"] = "system"
    payload: SlaWarningPayload


class SlaBreached(_ComplaintEvent):
    type: Literal["sla.breached"] = "sla.breached"
    schema_version: Literal[1] = 1
    channel: Literal["system"] = "system"
    payload: SlaBreachedPayload

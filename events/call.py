"""Telephony: one call is `call.started`, optionally `call.answered`, then `call.ended`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from events.envelope import Event, Frozen
from events.pii import PiiStr

Direction = Literal["inbound", "outbound"]
Disposition = Literal["answered", "missed", "busy", "rejected", "failed", "voicemail"]


class CallFacts(Frozen):
    """What every call event says about the call it belongs to."""

    provider: str = Field(description="cti, twilio, ...")
    call_id: str = Field(min_length=1)
    direction: Direction
    from_number: PiiStr | None = Field(default=None, description="E.164, None when withheld")
    to_number: PiiStr | None = None
    caller_withheld: bool = False
    users: tuple[str, ...] = Field(default=(), description="agents / extensions involved")
    queue: str | None = None
    original_call_id: str | None = Field(default=None, description="set on transfers")
    diversion: PiiStr | None = None
    sequence: int | None = Field(default=None, description="provider's ordering number, if it sends one")


class CallStartedPayload(CallFacts):
    pass


class CallAnsweredPayload(CallFacts):
    answered_by: str | None = None
    answering_number: PiiStr | None = None


class CallEndedPayload(CallFacts):
    disposition: Disposition
    duration_seconds: int | None = Field(default=None, ge=0)
    cause: str | None = Field(default=None, description="provider's hangup cause as sent")
    answered_by: str | None = None


class _CallEvent(Event):
    channel: Literal["phone"] = "phone"
    fallback_key_field: ClassVar[str | None] = "call_id"


class CallStarted(_CallEvent):
    type: Literal["call.started"] = "call.started"
    schema_version: Literal[1] = 1
    payload: CallStartedPayload


class CallAnswered(_CallEvent):
    type: Literal["call.answered"] = "call.answered"
    schema_version: Literal[1] = 1
    payload: CallAnsweredPayload


class CallEnded(_CallEvent):
    type: Literal["call.ended"] = "call.ended"
    schema_version: Literal[1] = 1
    payload: CallEndedPayload

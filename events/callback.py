"""Callbacks: a caller we missed is owed a call back.

A callback is opened by a missed or abandoned inbound call (once the grace time passed without
the caller reaching us), counts further missed calls from the same number, may be reported as
waiting too long, and is closed once, by a call or by an agent. All events of one callback
share its id as Kafka key, and every id is derived from the calls behind it, so a replay
yields the same events."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.envelope import ActorRef, Event, Frozen
from events.pii import PiiStr

CloseReason = Literal["called_back", "call_back_attempted", "caller_reached_us", "agent"]


class CallbackRef(Frozen):
    callback_id: str = Field(min_length=1)


class CallbackOpenedPayload(CallbackRef):
    phone: PiiStr = Field(description="E.164 number to call back")
    provider: str
    call_id: str = Field(min_length=1, description="the missed call that opened it")
    missed_at: AwareDatetime = Field(description="when that call ended unanswered: the wait starts here")
    disposition: str = Field(description="missed, busy, rejected, voicemail, ...")
    queue: str | None = None


class CallbackAttemptedPayload(CallbackRef):
    """The caller tried again, unanswered, while the callback was open."""

    phone: PiiStr
    provider: str
    call_id: str = Field(min_length=1)
    missed_at: AwareDatetime
    disposition: str


class CallbackClosedPayload(CallbackRef):
    phone: PiiStr
    reason: CloseReason
    closed_by: ActorRef
    note: PiiStr | None = Field(default=None, description="the agent's outcome note")
    provider: str | None = None
    call_id: str | None = Field(default=None, description="the call that closed it, if a call did")
    disposition: str | None = Field(default=None, description="how that call ended, if it had")


class CallbackOverduePayload(CallbackRef):
    phone: PiiStr
    missed_at: AwareDatetime
    waited_business_seconds: float = Field(ge=0)
    calendar: str
    limit: str = Field(description='the configured limit, e.g. "2h" of business time')


class _CallbackEvent(Event):
    def partition_key(self) -> str:
        return f"callback:{self.payload.callback_id}"


class CallbackOpened(_CallbackEvent):
    type: Literal["callback.opened"] = "callback.opened"
    schema_version: Literal[1] = 1
    channel: Literal["phone"] = "phone"
    payload: CallbackOpenedPayload


class CallbackAttempted(_CallbackEvent):
    type: Literal["callback.attempted"] = "callback.attempted"
    schema_version: Literal[1] = 1
    channel: Literal["phone"] = "phone"
    payload: CallbackAttemptedPayload


class CallbackClosed(_CallbackEvent):
    type: Literal["callback.closed"] = "callback.closed"
    schema_version: Literal[1] = 1
    channel: Literal["phone", "agent"] = "phone"
    payload: CallbackClosedPayload


class CallbackOverdue(_CallbackEvent):
    type: Literal["callback.overdue"] = "callback.overdue"
    schema_version: Literal[1] = 1
    channel: Literal["system"] = "system"
    payload: CallbackOverduePayload

"""Outcomes of the notifier: `escalation.notified` once a target has the message,
`escalation.failed` when delivery was given up."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from events.envelope import Event, Frozen
from events.pii import PiiStr


class EscalationPayload(Frozen):
    notification_id: str = Field(description="deterministic: trigger event, rule, level and target")
    trigger_event_id: str
    trigger_type: str
    complaint_id: str | None = None
    rule: str
    level: int = Field(default=1, ge=1)
    target_kind: Literal["email", "webhook"]
    target: PiiStr
    attempts: int = Field(default=1, ge=1)


class EscalationNotifiedPayload(EscalationPayload):
    message_id: str | None = Field(default=None, description="Message-ID of the mail sent")
    in_doubt: bool = Field(
        default=False,
        description="the notifier stopped after handing the message over and before recording the answer; "
        "it was not sent again (search the relay's log or the receiver for message_id / notification_id)",
    )


class EscalationFailedPayload(EscalationPayload):
    error: str


class EscalationNotified(Event):
    type: Literal["escalation.notified"] = "escalation.notified"
    schema_version: Literal[1] = 1
    channel: Literal["system"] = "system"
    payload: EscalationNotifiedPayload

    fallback_key_field: ClassVar[str | None] = "notification_id"


class EscalationFailed(Event):
    type: Literal["escalation.failed"] = "escalation.failed"
    schema_version: Literal[1] = 1
    channel: Literal["system"] = "system"
    payload: EscalationFailedPayload

    fallback_key_field: ClassVar[str | None] = "notification_id"

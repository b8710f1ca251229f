"""Twilio voice status callbacks → `call.*` events.

Twilio posts the call's parameters (CallSid, CallStatus, From, To, Direction, ...) each time
the call changes state, plus CallDuration, Timestamp (RFC 2822), SequenceNumber and
CallbackSource on status callbacks. Callbacks may arrive late and out of order:
SequenceNumber is kept on the event so consumers can order them, and the event id comes from
the CallSid and the state, so a retried or repeated callback yields the same event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from events.call import (
    CallAnswered, CallAnsweredPayload, CallEnded, CallEndedPayload, CallStarted, CallStartedPayload,
    Direction, Disposition,
)
from events.envelope import ContactIdentifiers, Event
from events.ids import event_id_for
from services.ingest.problems import FieldReader, InvalidPayload
from shared.contacts import normalise_phone

PROVIDER = "twilio"
STARTED = ("queued", "initiated", "ringing")
ANSWERED = ("in-progress",)
ENDED: dict[str, Disposition] = {
    "completed": "answered",
    "busy": "busy",
    "no-answer": "missed",
    "canceled": "missed",
    "failed": "failed",
}
STATUSES = (*STARTED, *ANSWERED, *ENDED)
# answering machine detection results that mean nobody picked up in person
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
SIP_DECLINE = "603"
CLIENT_PREFIXES = ("client:", "sip:")


def parse_twilio_status(
    form: Mapping[str, Any], received_at: datetime, default_region: str | None = None
) -> list[Event]:
    """One status callback → one event. Raises InvalidPayload naming every bad parameter."""
    reader = FieldReader(form)
    call_sid = reader.text("CallSid", required=True)
    status = reader.text("CallStatus", required=True)
    if status is not None and status not in STATUSES:
        reader.problem(f"CallStatus: must be one of {', '.join(STATUSES)}, got {status!r}")
    facts = _call_facts(reader, call_sid, default_region)
    occurred_at = _timestamp(reader) or received_at
    duration = _duration(reader)
    reader.raise_if_any()
    assert call_sid is not None and status is not None
    ours, theirs = ("to_number", "from_number") if facts["direction"] == "inbound" else ("from_number", "to_number")
    customer = facts[theirs] or (facts[ours] if facts["users"] else None)
    envelope = {
        "occurred_at": occurred_at, "recorded_at": received_at, "source": PROVIDER,
        "contact": ContactIdentifiers(phone=customer),
    }
    try:
        return [_build(status, reader, facts, envelope, call_sid, duration)]
    except ValidationError as exc:
        raise InvalidPayload.from_validation(exc) from None


def _build(status: str, reader: FieldReader, facts: dict[str, Any], envelope: dict[str, Any],
           call_sid: str, duration: int | None) -> Event:
    answered_by = facts["users"][0] if facts["users"] else None
    if status in STARTED:
        # queued, initiated and ringing are one fact: the call began; the first to arrive wins
        return CallStarted(event_id=event_id_for("call.started", PROVIDER, call_sid), **envelope,
                           payload=CallStartedPayload(**facts))
    if status in ANSWERED:
        return CallAnswered(event_id=event_id_for("call.answered", PROVIDER, call_sid), **envelope,
                            payload=CallAnsweredPayload(**facts, answered_by=answered_by))
    return CallEnded(
        event_id=event_id_for("call.ended", PROVIDER, call_sid), **envelope,
        payload=CallEndedPayload(
            **facts, duration_seconds=duration, cause=status, answered_by=answered_by,
            disposition=disposition_for(status, reader.text("AnsweredBy"), reader.text("SipResponseCode")),
        ),
    )


def disposition_for(status: str, answered_by: str | None, sip_response_code: str | None) -> Disposition:
    """completed after an answering machine picked up is voicemail; a SIP 603 is a rejection."""
    if status == "completed" and answered_by in MACHINE:
        return "voicemail"
    if status in ("busy", "no-answer", "failed") and sip_response_code == SIP_DECLINE:
        return "rejected"
    return ENDED[status]


def _call_facts(reader: FieldReader, call_sid: str | None, default_region: str | None) -> dict[str, Any]:
    direction: Direction = "inbound" if (reader.text("Direction") or "inbound") == "inbound" else "outbound"
    raw_from, raw_to = reader.text("From", "Caller"), reader.text("To", "Called")
    # client:anna / sip:21@pbx identities are our agents, never the customer
    users = tuple(raw.split(":", 1)[1] for raw in (raw_from, raw_to) if raw and raw.lower().startswith(CLIENT_PREFIXES))
    forwarded_from = reader.text("ForwardedFrom")
    sequence = reader.text("SequenceNumber")
    if sequence is not None and not sequence.isdigit():
        reader.problem(f"SequenceNumber: must be a whole number, got {sequence!r}")
        sequence = None
    return {
        "provider": PROVIDER,
        "call_id": call_sid,
        "direction": direction,
        "from_number": _number(raw_from, default_region),
        "to_number": _number(raw_to, default_region),
        "caller_withheld": direction == "inbound" and _number(raw_from, default_region) is None,
        "users": users,
        "original_call_id": reader.text("ParentCallSid"),
        "diversion": _number(forwarded_from, default_region) or forwarded_from,
        "sequence": int(sequence) if sequence is not None else None,
    }


@lru_cache(maxsize=8192)  # the same numbers recur across a call's callbacks
def _number(raw: str | None, default_region: str | None) -> str | None:
    if raw is None or raw.lower().startswith(CLIENT_PREFIXES):
        return None
    return normalise_phone(raw, default_region)


def _timestamp(reader: FieldReader) -> datetime | None:
    raw = reader.text("Timestamp")
    if raw is None:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        reader.problem("Timestamp: must be an RFC 2822 date with a zone such as "
                       f"'Mon, 02 Mar 2026 09:15:00 +0000', got {raw!r}")
        return None
    return parsed


def _duration(reader: FieldReader) -> int | None:
    raw = reader.text("CallDuration")
    if raw is None:
        return None
    if not raw.isdigit():
        reader.problem(f"CallDuration: must be whole seconds, got {raw!r}")
        return None
    return int(raw)

"""sipgate.io push / Zammad generic CTI events → `call.*` events.

The PBX posts one request per call state, as form data or JSON: `event` = newCall, answer
or hangup, the call id (`callId`, or `call_id`), `from` / `to` as international numbers
without `+` (or `anonymous`), `direction` in / out, `user` (one name or a `user[]` list),
`queue`, `answeringNumber`, and on hangup a `cause`. A transfer starts a new call id that
names the first one in `origCallId`, with the diverting number in `diversion`.

The event id is derived from the call id and the state, so a retried request yields the
same event and states arriving out of order (hangup before answer) stay consistent: the
hangup alone says how the call ended."""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Mapping
from datetime import datetime
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

PROVIDER = "cti"
EVENTS = ("newCall", "answer", "hangup")
IGNORED_EVENTS = ("dtmf",)  # sipgate.io sends keypresses too; they are no call state
WITHHELD = {"anonymous", "unknown", "restricted", "private", ""}
VOICEMAIL = "voicemail"
INTERNATIONAL_WITHOUT_PLUS = re.compile(r"^[1-9][0-9]{7,14}$")

# hangup cause -> disposition; normalClearing and forwarded depend on who answered
CAUSE_DISPOSITION: dict[str, Disposition] = {
    "busy": "busy",
    "cancel": "missed",
    "noAnswer": "missed",
    "congestion": "failed",
    "notFound": "failed",
    "rejected": "rejected",
}
DIRECTIONS: dict[str, Direction] = {"in": "inbound", "inbound": "inbound", "out": "outbound", "outbound": "outbound"}


def parse_cti(fields: Mapping[str, Any], received_at: datetime, default_region: str | None = None) -> list[Event]:
    """One CTI request → at most one event. Raises InvalidPayload naming every bad field."""
    reader = FieldReader(fields)
    kind = reader.text("event", required=True)
    if kind in IGNORED_EVENTS:
        return []
    if kind is not None and kind not in EVENTS:
        reader.problem(f"event: must be one of {', '.join(EVENTS)}, got {kind!r}")
    call_id = reader.text("callId", "call_id", required=True)
    raw_direction = reader.text("direction", required=True)
    direction = DIRECTIONS.get(raw_direction or "")
    if raw_direction is not None and direction is None:
        reader.problem(f"direction: must be in or out, got {raw_direction!r}")
    facts = _call_facts(reader, call_id, direction, default_region)
    reader.raise_if_any()
    assert call_id is not None and direction is not None and kind is not None
    try:
        return [_build(kind, reader, facts, call_id, received_at)]
    except ValidationError as exc:
        raise InvalidPayload.from_validation(exc) from None


def _call_facts(reader: FieldReader, call_id: str | None, direction: Direction | None,
                default_region: str | None) -> dict[str, Any]:
    raw_from = reader.text("from")
    raw_to = reader.text("to")
    from_number = cti_number(raw_from, default_region)
    to_number = cti_number(raw_to, default_region)
    diversion = reader.text("diversion")
    users = tuple(dict.fromkeys(reader.texts("user", "user[]")))
    return {
        "provider": PROVIDER,
        "call_id": call_id,
        "direction": direction,
        "from_number": from_number,
        "to_number": to_number,
        "caller_withheld": direction == "inbound" and (raw_from or "").lower() in WITHHELD,
        "users": users,
        "queue": reader.text("queue"),
        "original_call_id": reader.text("origCallId", "orig_call_id"),
        "diversion": (cti_number(diversion, default_region) or diversion) if diversion else None,
    }


@lru_cache(maxsize=8192)
def cti_number(raw: str | None, default_region: str | None) -> str | None:
    """E.164 for a CTI number. These protocols send international numbers without the `+`
    (4915112345678) and national ones with their trunk prefix (030 1234567), so a bare
    digit string not starting with 0 is international, whatever the default region.

    Cached: the same few numbers (our own lines, a caller's several call states) recur,
    and parsing a number costs more than the rest of the request."""
    if raw is not None and INTERNATIONAL_WITHOUT_PLUS.match(raw.strip()):
        raw = "+" + raw.strip()
    return normalise_phone(raw, default_region)


def _build(kind: str, reader: FieldReader, facts: dict[str, Any], call_id: str, received_at: datetime) -> Event:
    customer_number = facts["from_number"] if facts["direction"] == "inbound" else facts["to_number"]
    envelope = {
        "occurred_at": received_at,  # the CTI protocols send no timestamps
        "recorded_at": received_at,
        "source": PROVIDER,
        "contact": ContactIdentifiers(phone=customer_number),
    }
    answering_number = reader.text("answeringNumber", "answering_number")
    if kind == "newCall":
        return CallStarted(
            event_id=event_id_for("call.started", PROVIDER, call_id), **envelope,
            payload=CallStartedPayload(**facts),
        )
    if kind == "answer":
        answered_by = facts["users"][0] if facts["users"] else answering_number
        return CallAnswered(
            event_id=event_id_for("call.answered", PROVIDER, call_id), **envelope,
            payload=CallAnsweredPayload(**facts, answered_by=answered_by, answering_number=answering_number),
        )
    cause = reader.text("cause")
    return CallEnded(
        event_id=event_id_for("call.ended", PROVIDER, call_id), **envelope,
        payload=CallEndedPayload(
            **facts, cause=cause, answered_by=answering_number,
            disposition=disposition_for(cause, answering_number, facts["users"]),
        ),
    )


def disposition_for(cause: str | None, answering_number: str | None, users: tuple[str, ...] = ()) -> Disposition:
    """How a call ended, from the hangup alone (the answer event may come later or never).

    normalClearing only follows a connected call; a forwarded call counts as answered when
    the PBX names who took it, else as missed; a missing cause is judged the same way."""
    reached_voicemail = VOICEMAIL in {(answering_number or "").lower(), *(u.lower() for u in users)}
    if cause in CAUSE_DISPOSITION:
        return CAUSE_DISPOSITION[cause]
    if cause == "normalClearing":
        return "voicemail" if reached_voicemail else "answered"
    if cause in (None, "forwarded"):
        if reached_voicemail:
            return "voicemail"
        return "answered" if answering_number else "missed"
    return "failed"

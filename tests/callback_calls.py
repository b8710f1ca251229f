"""Builders of call events for the callback tests (synthetic numbers and ids)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.call import CallAnswered, CallAnsweredPayload, CallEnded, CallEndedPayload
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from services.projector.callbacks.rules import CallbackRules
from shared.business_calendar import BusinessCalendar

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)  # a Monday
CALLER = "+4930123456"
OUR_LINE = "+4930999000"


def rules(grace: str = "15m", close_on: str = "answered", escalate_after: float | None = None,
          calendar: BusinessCalendar | None = None) -> CallbackRules:
    minutes = float(grace.removesuffix("m"))
    return CallbackRules(grace=timedelta(minutes=minutes), open_on=frozenset({"missed", "busy", "rejected", "voicemail"}),
                         close_on=close_on, calendar=calendar or BusinessCalendar.twenty_four_seven(),
                         escalate_after=escalate_after, escalate_label=f"{escalate_after}s" if escalate_after else None)


def _facts(call_id: str, direction: str, number: str | None, provider: str) -> dict:
    ours, theirs = (OUR_LINE, number)
    return {"provider": provider, "call_id": call_id, "direction": direction,
            "from_number": theirs if direction == "inbound" else ours,
            "to_number": ours if direction == "inbound" else theirs,
            "caller_withheld": number is None, "users": ("anna",) if direction == "outbound" else ()}


def missed(call_id: str, at: datetime = T0, number: str | None = CALLER, disposition: str = "missed",
           provider: str = "cti", historic: bool = False) -> CallEnded:
    return CallEnded(event_id=event_id_for("call.ended", provider, call_id), occurred_at=at, recorded_at=at,
                     source=provider, contact=ContactIdentifiers(phone=number), historic=historic,
                     payload=CallEndedPayload(**_facts(call_id, "inbound", number, provider), disposition=disposition))


def ended(call_id: str, direction: str, at: datetime, disposition: str = "answered", number: str = CALLER,
          provider: str = "cti") -> CallEnded:
    return CallEnded(event_id=event_id_for("call.ended", provider, call_id), occurred_at=at, recorded_at=at,
                     source=provider, contact=ContactIdentifiers(phone=number),
                     payload=CallEndedPayload(**_facts(call_id, direction, number, provider), disposition=disposition))


def answered(call_id: str, direction: str, at: datetime, number: str = CALLER, provider: str = "cti") -> CallAnswered:
    return CallAnswered(event_id=event_id_for("call.answered", provider, call_id), occurred_at=at, recorded_at=at,
                        source=provider, contact=ContactIdentifiers(phone=number),
                        payload=CallAnsweredPayload(**_facts(call_id, direction, number, provider), answered_by="anna"))

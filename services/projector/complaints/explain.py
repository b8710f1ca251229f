"""A complaint's clocks as people read them: what the page draws as a timeline bar of segments
(running, outside business hours, paused, stopped), the due times in business time, and the
calendar and policy that produced them. Pure: events, rules and now in, a plain dict out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from events.envelope import Event
from services.projector.complaints.clock import ClockReading, Segment
from services.projector.complaints.facts import clock_of, policy_for
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.views import board_entry


def complaint_card(events: Sequence[Event], rules: SlaRules, now: datetime, agent_responds: bool = True) -> dict[str, Any]:
    """The board entry of the complaint with its `clock_details`."""
    entry = board_entry(events, rules, now)
    entry.pop("_urgency", None)
    return {**entry, **clock_details(events, rules, now, agent_responds)}


def clock_details(events: Sequence[Event], rules: SlaRules, now: datetime, agent_responds: bool = True) -> dict[str, Any]:
    """`calendar` (name and zone), `clock_bars` (one per clock) and the `actions` that apply
    (`agent_responds`: an agent's action counts as a first response here)."""
    facts, state = clock_of(events, rules, now)
    policy = policy_for(facts, rules)
    return {
        "calendar": policy.calendar.name if policy else None,
        "calendar_timezone": str(policy.calendar.timezone) if policy else None,
        "clock_bars": [clock_bar(r) for r in (state.first_response, state.resolution) if r is not None],
        "actions": available_actions(state.status, state.responded_at is not None or not agent_responds),
    }


def available_actions(status: str, responded: bool) -> list[str]:
    """The actions that apply to a complaint in this status (decide has the last word)."""
    if status == "resolved":
        return ["reopen"]
    actions = [] if responded else ["respond"]
    actions += ["resolve", "pause" if status == "open" else "resume", "priority"]
    return actions


def _split_at_breach(segment: Segment, breached_at: datetime | None) -> list[tuple[str, datetime, datetime]]:
    """Business time counted after the target was reached is `overdue`: the part of the bar
    that answers "why is this breached"."""
    if segment.kind != "running" or breached_at is None or segment.end <= breached_at:
        return [(segment.kind, segment.start, segment.end)]
    if segment.start >= breached_at:
        return [("overdue", segment.start, segment.end)]
    return [("running", segment.start, breached_at), ("overdue", breached_at, segment.end)]


def clock_bar(reading: ClockReading) -> dict[str, Any]:
    """Segments as shares of the span from the clock's start to the later of now and its due
    time; the due time and now as positions on it (0..100)."""
    start = reading.segments[0].start if reading.segments else reading.now
    end = max([reading.now, *([reading.due_at] if reading.due_at else []), *(s.end for s in reading.segments)])
    span = max((end - start).total_seconds(), 1.0)

    def at(instant: datetime) -> float:
        return round(100 * (instant - start).total_seconds() / span, 3)

    segments = [{"kind": kind, "reason": s.reason, "start": lo.isoformat(), "end": hi.isoformat(),
                 "seconds": round((hi - lo).total_seconds()), "x": at(lo), "width": max(at(hi) - at(lo), 0.2)}
                for s in reading.segments for kind, lo, hi in _split_at_breach(s, reading.breached_at)]
    return {
        "kind": reading.kind, "state": reading.state, "target_seconds": round(reading.target_seconds),
        "elapsed_seconds": round(reading.elapsed_seconds), "remaining_seconds": round(reading.remaining_seconds),
        "due_at": reading.due_at.isoformat() if reading.due_at else None, "due_x": at(reading.due_at) if reading.due_at else None,
        "stopped_at": reading.stopped_at.isoformat() if reading.stopped_at else None, "now_x": at(reading.now),
        "breached_at": reading.breached_at.isoformat() if reading.breached_at else None, "segments": segments,
    }

"""The SLA clock: a pure fold over one complaint's events under a policy and a calendar.

Two clocks run from `complaint.opened`: first response (stops at the first response, or at
resolution) and resolution (stops at `complaint.resolved`, runs on after a reopen). Both count
business time of the calendar only, and stand still while the complaint is paused for a
reason the policy lists in `pause_states`. Every figure comes with the segments that explain
it: running, outside hours, paused, stopped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from events.envelope import Event
from shared.business_calendar import BusinessCalendar
from services.projector.complaints.policy import Policy

ClockKind = Literal["first_response", "resolution"]
KINDS: tuple[ClockKind, ...] = ("first_response", "resolution")
State = Literal["ok", "warning", "breached", "paused", "met", "none"]
SegmentKind = Literal["running", "outside_hours", "paused", "stopped"]
BREACH = "breach"  # the point label of the due time itself


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    kind: SegmentKind
    reason: str | None = None


@dataclass(frozen=True)
class TimerPoint:
    """A warning point or the due time of one clock, and the instant it is (or will be)
    reached while the clock runs."""

    kind: ClockKind
    label: str  # "80%", "30m" or "breach"
    at: datetime


@dataclass(frozen=True)
class ClockReading:
    kind: ClockKind
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float  # negative once overdue
    due_at: datetime | None  # None while paused: it moves with the pause
    state: State
    running: bool
    stopped_at: datetime | None
    points: tuple[TimerPoint, ...]  # reached or projected; the timers fire these
    segments: tuple[Segment, ...]
    now: datetime

    @property
    def warnings_fired(self) -> tuple[TimerPoint, ...]:
        return tuple(p for p in self.points if p.label != BREACH and p.at <= self.now)

    @property
    def breached_at(self) -> datetime | None:
        return next((p.at for p in self.points if p.label == BREACH and p.at <= self.now), None)


@dataclass(frozen=True)
class ClockState:
    complaint_id: str
    status: Literal["open", "paused", "resolved"]
    state: State
    policy: str | None
    policy_version: int | None
    opened_at: datetime
    responded_at: datetime | None
    resolved_at: datetime | None
    first_response: ClockReading | None
    resolution: ClockReading | None
    now: datetime

    @property
    def active(self) -> ClockReading | None:
        """The clock the board shows: first response until answered, then resolution."""
        if self.first_response is not None and self.first_response.stopped_at is None:
            return self.first_response
        return self.resolution

    def due_points(self) -> list[TimerPoint]:
        """Points reached by `now` while the clocks ran: the timers to fire."""
        readings = [r for r in (self.first_response, self.resolution) if r is not None]
        return [p for r in readings for p in r.points if p.at <= self.now]

    def next_point_at(self, fired: set[tuple[str, str]] = frozenset()) -> datetime | None:  # type: ignore[assignment]
        """The earliest point of a live clock not yet fired; None when nothing remains to fire
        (points reached before a clock stopped belong to its outcome)."""
        readings = [r for r in (self.first_response, self.resolution) if r is not None and r.stopped_at is None]
        pending = [p.at for r in readings for p in r.points if (p.kind, p.label) not in fired]
        return min(pending) if pending else None


@dataclass(frozen=True)
class _Phase:
    start: datetime
    end: datetime | None  # None: still going at `now`
    status: Literal["running", "paused", "stopped"]
    reason: str | None = None


def sla_clock(events: Sequence[Event], policy: Policy | None, calendar: BusinessCalendar | None, now: datetime) -> ClockState:
    """The clocks of one complaint as of `now`. Events after `now` are ignored; events at the
    same instant keep their given order."""
    history = [e for e in sorted(events, key=lambda e: e.occurred_at) if e.occurred_at <= now]
    opened = next((e for e in history if e.type == "complaint.opened"), None)
    if opened is None:
        raise ValueError("a complaint's clock starts with complaint.opened")
    facts = _facts(history, policy)
    calendar = calendar or (policy.calendar if policy else None)
    if policy is None or calendar is None:
        return ClockState(
            complaint_id=opened.payload.complaint_id, status=facts.status, state="met" if facts.status == "resolved" else "none",
            policy=None, policy_version=None, opened_at=opened.occurred_at, responded_at=facts.responded_at,
            resolved_at=facts.resolved_at, first_response=None, resolution=None, now=now,
        )
    first = _reading("first_response", facts.first_response_phases, policy, calendar, now)
    resolution = _reading("resolution", facts.resolution_phases, policy, calendar, now)
    state = _overall(facts.status, first, resolution)
    return ClockState(
        complaint_id=opened.payload.complaint_id, status=facts.status, state=state, policy=policy.name,
        policy_version=policy.version, opened_at=opened.occurred_at, responded_at=facts.responded_at,
        resolved_at=facts.resolved_at, first_response=first, resolution=resolution, now=now,
    )


@dataclass
class _Facts:
    status: Literal["open", "paused", "resolved"] = "open"
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_phases: list[_Phase] = field(default_factory=list)
    resolution_phases: list[_Phase] = field(default_factory=list)


def _facts(history: Sequence[Event], policy: Policy | None) -> _Facts:
    """Splits the complaint's life into phases per clock."""
    pausing = policy.pause_states if policy else frozenset()
    facts = _Facts()
    first_done = False
    pause_reason: str | None = None
    for event in history:
        at = event.occurred_at
        match event.type:
            case "complaint.opened":
                _switch(facts.first_response_phases, at, "running")
                _switch(facts.resolution_phases, at, "running")
            case "complaint.paused" if facts.status == "open":
                facts.status, pause_reason = "paused", event.payload.reason
                if pause_reason in pausing:
                    _switch(facts.resolution_phases, at, "paused", pause_reason)
                    if not first_done:
                        _switch(facts.first_response_phases, at, "paused", pause_reason)
            case "complaint.resumed" if facts.status == "paused":
                facts.status = "open"
                _switch(facts.resolution_phases, at, "running")
                if not first_done:
                    _switch(facts.first_response_phases, at, "running")
            case "complaint.responded" if not first_done and facts.status != "resolved":
                first_done, facts.responded_at = True, at
                _switch(facts.first_response_phases, at, "stopped", "responded")
            case "complaint.resolved" if facts.status != "resolved":
                facts.status, facts.resolved_at = "resolved", at
                _switch(facts.resolution_phases, at, "stopped", "resolved")
                if not first_done:
                    first_done = True
                    _switch(facts.first_response_phases, at, "stopped", "resolved")
            case "complaint.reopened" if facts.status == "resolved":
                facts.status, facts.resolved_at = "open", None
                _switch(facts.resolution_phases, at, "running")
    return facts


def _switch(phases: list[_Phase], at: datetime, status: str, reason: str | None = None) -> None:
    if phases and phases[-1].end is None:
        last = phases[-1]
        if last.status == status and last.reason == reason:
            return
        phases[-1] = _Phase(last.start, at, last.status, last.reason)
    phases.append(_Phase(at, None, status, reason))  # type: ignore[arg-type]


def _reading(kind: ClockKind, phases: list[_Phase], policy: Policy, calendar: BusinessCalendar, now: datetime) -> ClockReading:
    target = policy.target(kind)
    elapsed = 0.0
    for phase in phases:
        if phase.status == "running":
            elapsed += calendar.business_seconds(phase.start, phase.end or now)
    running = bool(phases) and phases[-1].status == "running"
    stopped_at = phases[-1].start if phases and phases[-1].status == "stopped" else None
    thresholds = [(point.label, point.threshold(target)) for point in policy.warn_points] + [(BREACH, target)]
    points = []
    for label, threshold in thresholds:
        at = _instant_reaching(threshold, phases, calendar, now, extend_last=False)
        if at is not None:
            points.append(TimerPoint(kind, label, at))
    due_at = _instant_reaching(target, phases, calendar, now, extend_last=stopped_at is not None)
    if elapsed >= target:
        state: State = "breached"
    elif stopped_at is not None:
        state = "met"
    elif not running:
        state = "paused"
    elif any(p.label != BREACH and p.at <= now for p in points):
        state = "warning"
    else:
        state = "ok"
    return ClockReading(
        kind=kind, target_seconds=target, elapsed_seconds=elapsed, remaining_seconds=target - elapsed,
        due_at=None if state == "paused" else due_at, state=state, running=running, stopped_at=stopped_at,
        points=tuple(sorted(points, key=lambda p: p.at)), segments=tuple(_segments(phases, calendar, now)), now=now,
    )


def _instant_reaching(
    threshold: float, phases: list[_Phase], calendar: BusinessCalendar, now: datetime, extend_last: bool
) -> datetime | None:
    """When the running phases accumulate `threshold` business seconds. The phase still
    running at `now` is projected into the future; with `extend_last`, so is the last running
    phase before the clock stopped (the due time as it stood when it stopped)."""
    running = [p for p in phases if p.status == "running"]
    spent = 0.0
    for index, phase in enumerate(running):
        open_ended = phase.end is None or (extend_last and index == len(running) - 1)
        if open_ended:
            return calendar.add(phase.start, threshold - spent)
        length = calendar.business_seconds(phase.start, phase.end)  # type: ignore[arg-type]
        if spent + length >= threshold:
            return calendar.add(phase.start, threshold - spent)
        spent += length
    return None


def _segments(phases: list[_Phase], calendar: BusinessCalendar, now: datetime) -> list[Segment]:
    segments: list[Segment] = []
    for phase in phases:
        end = phase.end or now
        if phase.status == "stopped":
            if phase.end is not None:  # a stop that was later undone (resolved, then reopened)
                segments.append(Segment(phase.start, end, "stopped", phase.reason))
            continue
        if phase.status == "paused":
            segments.append(Segment(phase.start, end, "paused", phase.reason))
            continue
        cursor = phase.start
        for lo, hi in calendar.open_intervals(phase.start, end):
            if lo > cursor:
                segments.append(Segment(cursor, lo, "outside_hours"))
            segments.append(Segment(lo, hi, "running"))
            cursor = hi
        if cursor < end:
            segments.append(Segment(cursor, end, "outside_hours"))
    return segments


def _overall(status: str, first: ClockReading, resolution: ClockReading) -> State:
    if status == "resolved":
        return "breached" if "breached" in (first.state, resolution.state) else "met"
    active = first if first.stopped_at is None else resolution
    return active.state

"""What the SLA board and the report show: pure functions of rows, events, policies and now."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from events.envelope import Event
from services.projector.complaints.clock import ClockReading, ClockState
from services.projector.complaints.facts import ComplaintFacts, clock_of
from services.projector.complaints.policy import SlaRules

# Most urgent first: breached, then warning, ok, no SLA, paused, finished.
URGENCY = {"breached": 0, "warning": 1, "ok": 2, "none": 3, "paused": 4, "met": 5}
HISTOGRAM_BOUNDS = (900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)  # business seconds


def board_entry(events: Sequence[Event], rules: SlaRules, now: datetime, explain: bool = False) -> dict[str, Any]:
    facts, state = clock_of(events, rules, now)
    active = state.active
    entry: dict[str, Any] = {
        "complaint_id": facts.complaint_id, "status": state.status, "state": state.state,
        "subject": facts.subject, "priority": facts.priority, "team": facts.team, "segment": facts.segment,
        "origin": facts.origin, "channel": facts.channel, "opened_at": _iso(facts.opened_at),
        "responded_at": _iso(state.responded_at), "resolved_at": _iso(state.resolved_at),
        "reopen_count": facts.reopen_count, "policy": state.policy, "policy_version": state.policy_version,
        "first_response_due": _iso(state.first_response.due_at) if state.first_response else None,
        "resolution_due": _iso(state.resolution.due_at) if state.resolution else None,
        "clock": active.kind if active else None,
        "remaining_business_seconds": round(active.remaining_seconds) if active else None,
        "customer": _customer(facts),
    }
    if explain:
        entry["clocks"] = {r.kind: _explain(r) for r in (state.first_response, state.resolution) if r is not None}
    entry["_urgency"] = _urgency(state)
    return entry


def sort_by_urgency(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    ordered = sorted(entries, key=lambda e: e["_urgency"])
    for entry in ordered:
        entry.pop("_urgency", None)
    return ordered


def _urgency(state: ClockState) -> tuple[int, float, str]:
    active = state.active
    remaining = active.remaining_seconds if active else math.inf
    due = active.due_at.timestamp() if active and active.due_at else math.inf
    # within a group: the least business time left, then the earliest due time
    return (URGENCY.get(state.state, 9), remaining if state.state != "met" else -due, state.complaint_id)


def _customer(facts: ComplaintFacts) -> dict[str, Any]:
    """Links to the customer's page and timeline; without a known customer, the screen-pop
    lookup of the contact finds them."""
    link = f"/customers/{quote(facts.customer_id, safe='')}" if facts.customer_id else None
    timeline = f"/api/customers/{quote(facts.customer_id, safe='')}/timeline" if facts.customer_id else None
    lookup = None
    if facts.email:
        lookup = f"/api/lookup?{urlencode({'email': facts.email})}"
    elif facts.phone:
        lookup = f"/api/lookup?{urlencode({'phone': facts.phone})}"
    return {"customer_id": facts.customer_id, "email": facts.email, "phone": facts.phone,
            "customer_ref": facts.customer_ref, "link": link, "timeline": timeline, "lookup": lookup}


def _explain(reading: ClockReading) -> dict[str, Any]:
    return {
        "state": reading.state, "target_seconds": reading.target_seconds, "elapsed_seconds": round(reading.elapsed_seconds),
        "remaining_seconds": round(reading.remaining_seconds), "due_at": _iso(reading.due_at),
        "stopped_at": _iso(reading.stopped_at),
        "points": [{"point": p.label, "at": _iso(p.at), "reached": p.at <= reading.now} for p in reading.points],
        "segments": [{"kind": s.kind, "start": _iso(s.start), "end": _iso(s.end), "reason": s.reason,
                      "seconds": round((s.end - s.start).total_seconds())} for s in reading.segments],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kind: str
    outcome: str  # met | breached
    business_seconds: float | None
    channel: str
    team: str | None
    policy: str
    policy_version: int


def sla_report(outcomes: Sequence[Outcome], open_states: Mapping[str, int]) -> dict[str, Any]:
    """Distributions of first-response and resolution times (business time), breach rates,
    overall and per channel and team."""
    return {
        "overall": _by_kind(outcomes),
        "by_channel": {key: _by_kind(group) for key, group in _group(outcomes, lambda o: o.channel).items()},
        "by_team": {key: _by_kind(group) for key, group in _group(outcomes, lambda o: o.team or "(none)").items()},
        "by_policy_version": {key: _by_kind(group) for key, group in
                              _group(outcomes, lambda o: f"{o.policy}@v{o.policy_version}").items()},
        "open_by_state": dict(sorted(open_states.items())),
    }


def _group(outcomes: Sequence[Outcome], key) -> dict[str, list[Outcome]]:  # type: ignore[no-untyped-def]
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return dict(sorted(groups.items()))


def _by_kind(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    return {kind: _summary([o for o in outcomes if o.kind == kind]) for kind in ("first_response", "resolution")}


def _summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    breached = sum(1 for o in outcomes if o.outcome == "breached")
    seconds = sorted(o.business_seconds for o in outcomes if o.business_seconds is not None)
    return {
        "count": len(outcomes), "breached": breached,
        "breach_rate": round(breached / len(outcomes), 4) if outcomes else None,
        "business_seconds": {
            "p50": _quantile(seconds, 0.5), "p90": _quantile(seconds, 0.9),
            "mean": round(sum(seconds) / len(seconds), 1) if seconds else None, "max": seconds[-1] if seconds else None,
        },
        "histogram": _histogram(seconds),
    }


def _quantile(ordered: Sequence[float], share: float) -> float | None:
    """Nearest-rank quantile: a value that occurred, so every figure points at a complaint."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _histogram(ordered: Sequence[float]) -> list[dict[str, Any]]:
    buckets = []
    for bound in (*HISTOGRAM_BOUNDS, math.inf):
        buckets.append({"le": None if bound == math.inf else bound, "count": sum(1 for s in ordered if s <= bound)})
    return buckets

"""Prometheus metrics of complaints and SLA timers (process-wide registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OPEN_COMPLAINTS = Gauge("touchpoint_complaints_open", "Complaints not resolved, by SLA state", ["state"])
SLA_EVENTS = Counter("touchpoint_sla_events_published_total", "SLA warnings and breaches published", ["type", "kind"])
COMPLAINT_EVENTS_DETECTED = Counter(
    "touchpoint_complaint_events_detected_total", "Complaint events derived from interactions", ["type"]
)
STATES = ("ok", "warning", "breached", "paused", "none")


def set_open_counts(counts: dict[str, int]) -> None:
    for state in STATES:
        OPEN_COMPLAINTS.labels(state=state).set(counts.get(state, 0))

"""Prometheus metrics. Every service exposes the default registry at `/metrics`; metric
objects are module-level because prometheus-client's registry is process-wide by design."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

EVENTS_PUBLISHED = Counter(
    "touchpoint_events_published_total", "Events acknowledged by Kafka", ["channel", "type"]
)
PUBLISH_LATENCY = Histogram(
    "touchpoint_publish_seconds", "Time from publish call to Kafka acknowledgement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("touchpoint_errors_total", "Errors by service and reason", ["service", "reason"])
DEAD_LETTERS = Counter("touchpoint_dead_letters_total", "Messages sent to a dead letter topic", ["service", "reason"])


def render_latest() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST

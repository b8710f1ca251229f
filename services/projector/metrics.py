"""The projector's Prometheus metrics (process-wide registry, see shared/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPLIED = Counter("touchpoint_projector_events_applied_total", "Events applied to a projection", ["projection", "type"])
DUPLICATES_SKIPPED = Counter(
    "touchpoint_projector_duplicates_skipped_total", "Events skipped because they were applied before", ["projection"]
)
BATCH_SIZE = Histogram(
    "touchpoint_projector_batch_size", "Events per write transaction", ["projection"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
LAG_SECONDS = Gauge(
    "touchpoint_projector_lag_seconds", "Now minus the source time of the newest event applied", ["projection"]
)

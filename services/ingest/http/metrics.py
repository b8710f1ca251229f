"""Prometheus metrics of the ingest service, labelled by webhook source (cti, twilio, forms,
aftership, easypost, generic: a fixed set, never a form id or a caller)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS_RECEIVED = Counter(
    "touchpoint_webhooks_received_total", "Webhook requests received, before authentication", ["source"]
)
WEBHOOKS_ACCEPTED = Counter(
    "touchpoint_webhooks_accepted_total", "Webhook requests answered 2xx after Kafka acknowledged", ["source"]
)
LAST_WEBHOOK = Gauge(
    "touchpoint_webhook_last_accepted_timestamp_seconds", "Unix time of the last accepted webhook", ["source"]
)
PRODUCE_LATENCY = Histogram(
    "touchpoint_webhook_produce_seconds", "From publish call to Kafka acknowledgement, per webhook", ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_ERRORS = Counter(
    "touchpoint_webhook_errors_total", "Webhook requests refused or failed, by reason", ["source", "reason"]
)


@dataclass(frozen=True)
class SourceMetrics:
    """The children of one source's metrics, looked up once: `labels()` takes a lock and a
    dictionary look-up, four times a webhook otherwise."""

    received: Counter
    accepted: Counter
    last_accepted: Gauge
    produce_seconds: Histogram


@functools.cache  # a bounded set of sources (see source_of)
def metrics_of(source: str) -> SourceMetrics:
    return SourceMetrics(WEBHOOKS_RECEIVED.labels(source), WEBHOOKS_ACCEPTED.labels(source),
                         LAST_WEBHOOK.labels(source), PRODUCE_LATENCY.labels(source))


SHIPPING_PROVIDERS = ("aftership", "easypost", "generic")


def source_of(path: str) -> str:
    """The metrics label of a webhook path (a bounded set, whatever the caller sends)."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "webhooks":
        if parts[1] == "telephony" and parts[2] in ("cti", "twilio"):
            return parts[2]
        if parts[1] == "forms":
            return "forms"
        if parts[1] == "shipping":
            return parts[2] if parts[2] in SHIPPING_PROVIDERS else "shipping"
    return "other"

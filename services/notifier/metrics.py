"""The notifier's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter

NOTIFICATIONS_SENT = Counter("touchpoint_notifier_sent_total", "Notifications the target accepted", ["target_kind"])
NOTIFICATIONS_FAILED = Counter(
    "touchpoint_notifier_failed_total", "Notifications given up (dead letter + escalation.failed)", ["target_kind"]
)
NOTIFICATIONS_RETRIED = Counter(
    "touchpoint_notifier_retries_total", "Delivery attempts that will be retried", ["target_kind"]
)
NOTIFICATIONS_HELD = Counter(
    "touchpoint_notifier_held_total", "Notifications held until the calendar opens", ["target_kind"]
)
NOTIFICATIONS_IN_DOUBT = Counter(
    "touchpoint_notifier_in_doubt_total",
    "Notifications handed over whose outcome was not recorded (process died); not sent again",
    ["target_kind"],
)
NOTIFICATIONS_PLANNED = Counter(
    "touchpoint_notifier_planned_total", "Notifications recorded as intents", ["target_kind"]
)

"""Prometheus metrics of the IMAP pollers (served by `touchpoint imap` when
TOUCHPOINT_IMAP_METRICS_PORT is set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MAILS_FETCHED = Counter("touchpoint_imap_mails_fetched_total", "Messages fetched from IMAP", ["mailbox", "folder"])
BYTES_FETCHED = Counter("touchpoint_imap_bytes_fetched_total", "Message bytes fetched from IMAP", ["mailbox", "folder"])
MAILS_PUBLISHED = Counter(
    "touchpoint_imap_mails_published_total", "Messages acknowledged by Kafka as events", ["mailbox", "folder"]
)
MAILS_SKIPPED = Counter(
    "touchpoint_imap_mails_already_published_total",
    "Messages fetched again (resync, second folder) whose event was already published", ["mailbox", "folder"],
)
PARSE_ERRORS = Counter(
    "touchpoint_imap_parse_errors_total", "Messages that became an event with parse_error, or a dead letter",
    ["mailbox", "kind"],
)
LAST_SYNC = Gauge(
    "touchpoint_imap_last_successful_sync_timestamp_seconds", "When a folder was last fully synced",
    ["mailbox", "folder"],
)
CONNECTED = Gauge("touchpoint_imap_connected", "1 while a folder's IMAP connection is up", ["mailbox", "folder"])
FAILURES = Counter("touchpoint_imap_failures_total", "Connection or sync failures, retried with backoff", ["mailbox", "reason"])
IDLING = Gauge("touchpoint_imap_idling", "1 while a folder waits in IDLE for the server to report new mail", ["mailbox", "folder"])

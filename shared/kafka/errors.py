"""The two kinds of failure. Invalid input is not retriable and goes to a dead letter topic;
anything transient is raised so that the caller retries (or answers 503), never swallowed."""

from __future__ import annotations

from events.codec import InvalidEvent

__all__ = ["InvalidEvent", "KafkaUnavailable", "TransientError"]


class TransientError(RuntimeError):
    """Retrying later can succeed (broker down, database locked, SMTP busy)."""


class KafkaUnavailable(TransientError):
    """Kafka did not acknowledge in time; nothing may be reported as stored."""

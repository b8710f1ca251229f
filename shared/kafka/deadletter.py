"""Dead letters: input that can never be processed, kept with its original bytes and why.

One topic per service (`<prefix>deadletter.<service>`). The value is the original bytes as
received (sealed when it holds personal data no event protects, `dlq.sealed_key`); headers carry
the reason, where it came from and when it was first seen, so that an operator can fix the cause
and replay it to its source topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from events.topics import deadletter_topic

MAX_REASON_CHARS = 2000


class RawProducer(Protocol):
    async def send_raw(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        """Returns after the broker acknowledged."""


@dataclass(frozen=True)
class DeadLetter:
    service: str
    reason: str
    original: bytes
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    source: str | None = None  # adapter or provider that delivered it
    key: bytes | None = None
    first_seen: datetime | None = None
    sealed_key: str | None = None  # `original` is sealed under this data key (shared/privacy/letters.py)

    def headers(self) -> list[tuple[str, bytes]]:
        first_seen = self.first_seen or datetime.now(UTC)
        pairs = {
            "dlq.service": self.service,
            "dlq.reason": self.reason[:MAX_REASON_CHARS],
            "dlq.first_seen": first_seen.isoformat(),
            "dlq.source_topic": self.source_topic,
            "dlq.source_partition": self.source_partition,
            "dlq.source_offset": self.source_offset,
            "dlq.source": self.source,
            "dlq.sealed_key": self.sealed_key,
        }
        return [(name, str(value).encode()) for name, value in pairs.items() if value is not None]

    @classmethod
    def from_record(cls, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes | None]]) -> DeadLetter:
        """Reads a dead letter back; headers that are missing or malformed (a letter written by
        another tool, or by hand) read as unknown instead of failing."""
        found = {name: (raw or b"").decode(errors="replace") for name, raw in headers}

        def as_int(name: str) -> int | None:
            text = found.get(name, "").strip()
            return int(text) if text.isdigit() and len(text) < 20 else None

        return cls(
            service=found.get("dlq.service", "?")[:255],
            reason=found.get("dlq.reason", "?")[:MAX_REASON_CHARS],
            original=value or b"",
            source_topic=found.get("dlq.source_topic") or None,
            source_partition=as_int("dlq.source_partition"),
            source_offset=as_int("dlq.source_offset"),
            source=found.get("dlq.source"),
            key=key,
            first_seen=_aware_time(found.get("dlq.first_seen")),
            sealed_key=found.get("dlq.sealed_key") or None,
        )


def _aware_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def send_to_deadletter(producer: RawProducer, topic_prefix: str, letter: DeadLetter) -> None:
    await producer.send_raw(
        deadletter_topic(topic_prefix, letter.service), letter.original, letter.key, letter.headers()
    )

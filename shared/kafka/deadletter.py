"""Dead letters: input that can never be processed, kept with its original bytes and why.

One topic per service (`<prefix>deadletter.<service>`). The value is the original bytes as
received; headers carry the reason, where it came from and when it was first seen, so that an
operator can fix the cause and replay it to its source topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from events.topics import deadletter_topic


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

    def headers(self) -> list[tuple[str, bytes]]:
        first_seen = self.first_seen or datetime.now(UTC)
        pairs = {
            "dlq.service": self.service,
            "dlq.reason": self.reason[:2000],
            "dlq.first_seen": first_seen.isoformat(),
            "dlq.source_topic": self.source_topic,
            "dlq.source_partition": self.source_partition,
            "dlq.source_offset": self.source_offset,
            "dlq.source": self.source,
        }
        return [(name, str(value).encode()) for name, value in pairs.items() if value is not None]

    @classmethod
    def from_record(cls, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> DeadLetter:
        found = {name: raw.decode(errors="replace") for name, raw in headers}

        def as_int(name: str) -> int | None:
            return int(found[name]) if name in found else None

        return cls(
            service=found.get("dlq.service", "?"),
            reason=found.get("dlq.reason", "?"),
            original=value,
            source_topic=found.get("dlq.source_topic"),
            source_partition=as_int("dlq.source_partition"),
            source_offset=as_int("dlq.source_offset"),
            source=found.get("dlq.source"),
            key=key,
            first_seen=datetime.fromisoformat(found["dlq.first_seen"]) if "dlq.first_seen" in found else None,
        )


async def send_to_deadletter(producer: RawProducer, topic_prefix: str, letter: DeadLetter) -> None:
    await producer.send_raw(
        deadletter_topic(topic_prefix, letter.service), letter.original, letter.key, letter.headers()
    )

"""Reading topics in batches with aiokafka, for catch-ups and rebuilds (and any consumer that
keeps its positions in the database rather than in Kafka).

`BatchReader` starts each partition at a position the caller supplies (offset 0 for a rebuild,
the stored `next_offset` otherwise), yields decoded events with their positions plus the records
that could not be decoded, and can stop at the end offsets seen at start ("catch up, then
return")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from events.codec import InvalidEvent, decode
from events.envelope import Event
from shared.kafka.errors import KafkaUnavailable

Position = tuple[str, int]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumed:
    event: Event
    topic: str
    partition: int
    offset: int
    raw: bytes | None = field(default=None, repr=False)  # the bytes as read, for a dead letter
    key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Undecodable:
    reason: str
    value: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass
class Batch:
    events: list[Consumed] = field(default_factory=list)
    invalid: list[Undecodable] = field(default_factory=list)

    def next_offsets(self) -> dict[Position, int]:
        """The offset to read next per partition, after this batch."""
        found: dict[Position, int] = {}
        for item in [*self.events, *self.invalid]:
            key = (item.topic, item.partition)
            found[key] = max(found.get(key, 0), item.offset + 1)
        return found

    def __len__(self) -> int:
        return len(self.events) + len(self.invalid)


def decode_record(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> Consumed | Undecodable:
    try:
        if value is None:
            raise InvalidEvent("empty record value")
        return Consumed(decode(value), topic, partition, offset, value, key)
    except InvalidEvent as exc:
        return Undecodable(str(exc), value or b"", key, topic, partition, offset)
    except (ValueError, TypeError, RecursionError) as exc:  # whatever else the bytes provoke
        return Undecodable(f"cannot be decoded: {type(exc).__name__}: {exc}"[:2000], value or b"", key, topic,
                           partition, offset)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stops a consumer. aiokafka 0.14 re-raises the CancelledError of its own internal task
    when a consumer without group stops; only a cancellation of *our* task may propagate."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def partitions_of(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of `topics`; raises KafkaUnavailable naming topics that do not exist."""
    # topics() fetches metadata without keeping it; the client must track our topics for
    # partitions_for_topic() to know them (aiokafka has no public call for this)
    await consumer._client.set_topics(topics)
    known = await consumer.topics()
    missing = [topic for topic in topics if topic not in known]
    if missing:
        raise KafkaUnavailable(f"topics {missing} do not exist; run `touchpoint topics` first")
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(consumer.partitions_for_topic(topic) or ())
    ]


class BatchReader:
    def __init__(
        self,
        bootstrap_servers: str,
        topics: list[str],
        start_offsets: Mapping[Position, int] | None = None,
        max_records: int = 5000,
        client_id: str = "touchpoint-reader",
        group_id: str | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._topics = topics
        self._group_id = group_id
        self._start = dict(start_offsets or {})
        self._max_records = max_records
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
            **(client_options or {}),
        )
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> BatchReader:
        try:
            await self._consumer.start()
            self._partitions = await partitions_of(self._consumer, self._topics)
            self._consumer.assign(self._partitions)
            for tp in self._partitions:
                self._consumer.seek(tp, self._start.get((tp.topic, tp.partition), 0))
        except KafkaUnavailable:
            await stop_consumer(self._consumer)
            raise
        except (KafkaError, OSError) as exc:
            await stop_consumer(self._consumer)
            raise KafkaUnavailable(f"cannot read {self._topics}: {exc!r}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        await stop_consumer(self._consumer)

    async def report_positions(self, next_offsets: Mapping[Position, int]) -> None:
        """Mirrors positions kept in the database into Kafka as the group's committed offsets,
        so that `touchpoint lag` and the ops page see this reader. Best effort: the database
        stays the source of truth, and a failed mirror only delays what lag shows."""
        if self._group_id is None or not next_offsets:
            return
        try:
            await self._consumer.commit({TopicPartition(t, p): o for (t, p), o in next_offsets.items()})
        except KafkaError as exc:
            log.warning("could not mirror positions of %s to Kafka: %r", self._group_id, exc)

    async def end_offsets(self) -> dict[Position, int]:
        ends = await self._consumer.end_offsets(self._partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def remaining(self) -> int:
        """Records between the start positions and the current end of every partition."""
        ends = await self.end_offsets()
        return sum(max(0, end - self._start.get(pos, 0)) for pos, end in ends.items())

    async def batches(self, until_end: bool = True, poll_ms: int = 500) -> AsyncIterator[Batch]:
        """Yields batches; with `until_end`, stops once every partition reached the end offset
        it had when iteration began."""
        targets = await self.end_offsets() if until_end else {}
        position = {pos: self._start.get(pos, 0) for pos in targets}
        while True:
            if until_end and all(position.get(pos, 0) >= end for pos, end in targets.items()):
                return
            try:
                fetched = await self._consumer.getmany(timeout_ms=poll_ms, max_records=self._max_records)
            except KafkaError as exc:
                raise KafkaUnavailable(f"reading {self._topics} failed: {exc!r}") from exc
            batch = Batch()
            for tp, records in fetched.items():
                for record in records:
                    item = decode_record(tp.topic, tp.partition, record.offset, record.key, record.value)
                    (batch.events if isinstance(item, Consumed) else batch.invalid).append(item)
                    position[(tp.topic, tp.partition)] = record.offset + 1
            if len(batch):
                yield batch
            elif not until_end:
                await asyncio.sleep(0)

"""From consumed records to the writer: the step every reading path shares (the live
Faust agent, catch-up and rebuild).

Records that cannot be decoded go to `<prefix>deadletter.projector` with the reason and
their source position, and the projection moves on; everything else is written, with the
batch's next offsets, in one transaction. A failure to write raises (and is retried by the
caller): nothing is skipped silently."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.projector.timeline.writer import TimelineWriter, WriteResult
from shared.kafka.consumer import Batch, Consumed, Undecodable
from shared.kafka.deadletter import DeadLetter, RawProducer, send_to_deadletter
from shared.logging import correlation_scope
from shared.metrics import DEAD_LETTERS

SERVICE = "projector"
log = logging.getLogger("touchpoint.projector")


class BatchProjector:
    def __init__(self, writer: TimelineWriter, deadletters: RawProducer, topic_prefix: str) -> None:
        self.writer, self.deadletters, self.topic_prefix = writer, deadletters, topic_prefix

    async def handle(self, batch: Batch) -> WriteResult:
        for record in batch.invalid:
            await self.dead_letter(record)
        result = await self.writer.write([c.event for c in batch.events], batch.next_offsets())
        if log.isEnabledFor(logging.DEBUG):  # a rebuild projects millions: per event only on request
            for consumed in batch.events:
                with correlation_scope(consumed.event.correlation_id):
                    log.debug("projected %s %s", consumed.event.type, consumed.event.event_id)
        return result

    async def dead_letter(self, record: Undecodable) -> None:
        letter = DeadLetter(
            service=SERVICE, reason=record.reason, original=record.value, key=record.key,
            source_topic=record.topic, source_partition=record.partition, source_offset=record.offset,
        )
        await send_to_deadletter(self.deadletters, self.topic_prefix, letter)
        DEAD_LETTERS.labels(SERVICE, "undecodable").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, record.reason)


def as_batch(items: Sequence[Consumed | Undecodable]) -> Batch:
    batch = Batch()
    for item in items:
        (batch.events if isinstance(item, Consumed) else batch.invalid).append(item)
    return batch

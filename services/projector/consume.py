"""From consumed records to the writer: the step every reading path shares (the live
Faust agent, catch-up and rebuild).

It is the shared `LogStep` around the timeline writer: records that cannot be decoded, and
events the database refuses for good, go to `<prefix>deadletter.projector` with the reason
and their source position while the projection moves on; everything else is written, with
the batch's next offsets, in one transaction. Transient failures are retried with backoff:
nothing is skipped silently."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from services.projector.timeline.writer import TimelineWriter, WriteResult
from shared.kafka.consumer import Batch, Consumed
from shared.kafka.deadletter import RawProducer
from shared.kafka.follower import Backoff, LogStep, as_batch

__all__ = ["BatchProjector", "as_batch"]
from shared.logging import correlation_scope

SERVICE = "projector"
log = logging.getLogger("touchpoint.projector")
Position = tuple[str, int]


class BatchProjector:
    def __init__(self, writer: TimelineWriter, deadletters: RawProducer, topic_prefix: str,
                 backoff: Backoff = Backoff()) -> None:
        self.writer, self.deadletters, self.topic_prefix = writer, deadletters, topic_prefix
        self.step = LogStep(SERVICE, self.write, deadletters, topic_prefix, backoff)

    async def handle(self, batch: Batch) -> None:
        await self.step.handle(batch)

    async def write(self, consumed: Sequence[Consumed], next_offsets: Mapping[Position, int]) -> WriteResult:
        result = await self.writer.write([c.event for c in consumed], next_offsets)
        if log.isEnabledFor(logging.DEBUG):  # a rebuild projects millions: per event only on request
            for item in consumed:
                with correlation_scope(item.event.correlation_id):
                    log.debug("projected %s %s", item.event.type, item.event.event_id)
        return result

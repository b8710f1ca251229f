"""A publisher for unit tests whose complaint events reach the complaints processor at once,
as Kafka would deliver them: the action → event → processor → table path without a broker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from events.envelope import Event
from services.projector.complaints.processor import ComplaintProcessor, complaints_topic
from shared.kafka.consumer import Consumed
from shared.kafka.publisher import InMemoryPublisher


@dataclass
class ProcessedPublisher(InMemoryPublisher):
    processor: ComplaintProcessor | None = None

    async def publish(self, events: Sequence[Event]) -> None:
        await super().publish(events)
        if self.processor is None:
            return
        topic = complaints_topic(self.topic_prefix)
        delivered = [Consumed(e, topic, 0, len(self.published) + i) for i, e in enumerate(events) if e.type.startswith(("complaint.", "sla."))]
        if delivered:
            await self.processor.write(delivered, {})


def processed_publisher(engine, settings, rules, now) -> ProcessedPublisher:  # type: ignore[no-untyped-def]
    from services.projector.complaints.detector import DetectorConfig

    publisher = ProcessedPublisher(topic_prefix=settings.topic_prefix)
    publisher.processor = ComplaintProcessor(engine, publisher, settings.topic_prefix, rules,
                                             DetectorConfig(sla=settings.file.sla, rules=rules), now)
    return publisher

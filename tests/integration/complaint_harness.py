"""Running the complaints service against the real Kafka and PostgreSQL of the test session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from events.envelope import Event
from events.topics import Topic, topic_name
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import rules_from_settings
from services.projector.complaints.processor import DETECTOR, PROJECTION
from services.projector.complaints.service import ComplaintService
from shared.config import FileConfig, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.consumer import BatchReader
from shared.kafka.publisher import KafkaPublisher


def configure(kafka_settings: Settings, database_url: str, file: dict[str, Any]) -> Settings:
    return kafka_settings.model_copy(update={"database_url": database_url, "file": FileConfig.model_validate(file)})


class Running:
    """A complaints service with its own engine and publisher; `restart()` starts a fresh one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rules = rules_from_settings(settings)
        self.engine = make_engine(settings.db_url)
        self.publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
        self.service: ComplaintService | None = None

    async def start(self) -> Running:
        await upgrade_async(self.settings.db_url)
        await self.publisher.start()
        self.service = ComplaintService(
            self.settings.bootstrap_servers, self.settings.topic_prefix, self.engine, self.publisher, self.rules,
            DetectorConfig(sla=self.settings.file.sla, rules=self.rules), timer_interval=0.1, retry_delay=0.5,
        )
        await self.service.start()
        return self

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None

    async def close(self) -> None:
        await self.stop()
        await self.publisher.stop()
        await self.engine.dispose()

    async def caught_up(self) -> bool:
        """The processor has committed positions at the current end of every topic it reads."""
        topics = [topic_name(self.settings.topic_prefix, t) for t in (Topic.EMAIL, Topic.CALLS, Topic.WEBFORMS, Topic.CUSTOMERS, Topic.COMPLAINTS)]
        async with BatchReader(self.settings.bootstrap_servers, topics) as reader:
            ends = await reader.end_offsets()
        async with self.engine.connect() as conn:
            stored = {**await load_offsets(conn, DETECTOR), **await load_offsets(conn, PROJECTION)}
        return all(stored.get(position, 0) >= end for position, end in ends.items())


async def eventually(check: Callable[[], Awaitable[Any]], what: str, deadline: float = 60.0) -> Any:
    """Polls `check` until it returns something truthy; fails naming `what` after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    until = loop.time() + deadline
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > until:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def complaint_log(settings: Settings) -> list[Event]:
    """Every event in the complaints topic, in partition order."""
    topic = topic_name(settings.topic_prefix, Topic.COMPLAINTS)
    found: list[Event] = []
    async with BatchReader(settings.bootstrap_servers, [topic]) as reader:
        async for batch in reader.batches(until_end=True):
            found += [c.event for c in batch.events]
    return found

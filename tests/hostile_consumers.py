"""Running every consumer's step (timeline projector, complaints processor, notifier) over
topics into PostgreSQL, then checking that each accepted event is either applied or in that
consumer's dead letter topic, and that the events sent afterwards were applied."""

from __future__ import annotations

from collections.abc import Collection

from services.notifier.handler import TRACKING_NAME as NOTIFIER, EventHandler, step_for
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.processor import DETECTOR, ComplaintProcessor
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.writer import TimelineWriter
from shared.config import Notifier, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets, unapplied
from shared.kafka.consumer import BatchReader, Consumed
from shared.kafka.follower import Backoff, follow_in_bulk
from shared.kafka.publisher import InMemoryPublisher
from tests.integration.test_hostile_events import RULES, SLA

Place = tuple[str, int, int]  # topic, partition, offset


async def assert_applied_or_dead_lettered(settings: Settings, postgres_url: str, topics: list[str],
                                          accepted: Collection[str], later: Collection[str]) -> None:
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    fast = Backoff(first=0.01, cap=0.05)
    letters = InMemoryPublisher(topic_prefix=settings.topic_prefix)
    consumers = {
        "projector": (PROJECTION, BatchProjector(TimelineWriter(engine), letters, settings.topic_prefix, fast).step),
        "complaints": (DETECTOR, ComplaintProcessor(engine, letters, settings.topic_prefix, RULES,
                                                    DetectorConfig(sla=SLA, rules=RULES), backoff=fast).step),
        "notifier": (NOTIFIER, step_for(EventHandler(engine, Notifier(), [], {}), letters, settings.topic_prefix, fast)),
    }
    async with BatchReader(settings.bootstrap_servers, topics) as reader:
        ends = {position: end for position, end in (await reader.end_offsets()).items() if end}
    try:
        for service, (tracking, step) in consumers.items():
            reached = await follow_in_bulk(settings.bootstrap_servers, topics, step, {}, client_id=f"test-{service}")
            dead = {_place(dict(headers)) for topic, _, _, headers in letters.raw
                    if topic.endswith(f"deadletter.{service}")}
            async with engine.connect() as conn:
                missing = await unapplied(conn, tracking, [*later, *accepted])
                stored = await load_offsets(conn, tracking)
            assert {position: reached.get(position, 0) for position in ends} == ends, f"{service} stalled"
            if service == "notifier":
                continue  # positions in Faust's commits; tracking rows only for what its triggers need
            assert {position: stored.get(position, 0) for position in ends} == ends, \
                f"{service}: its stored positions did not reach the end of the log"
            assert not missing & set(later), f"{service}: events sent after the hostile ones were not applied"
            places = await places_of(settings, topics, set(missing))
            assert places <= dead, f"{service}: {sorted(missing)} neither applied nor dead-lettered"
    finally:
        await engine.dispose()


def _place(headers: dict[str, bytes]) -> Place:
    return (headers["dlq.source_topic"].decode(), int(headers["dlq.source_partition"]),
            int(headers["dlq.source_offset"]))


async def places_of(settings: Settings, topics: list[str], event_ids: set[str]) -> set[Place]:
    """Where in the log the records carrying `event_ids` are."""
    found: set[Place] = set()
    async with BatchReader(settings.bootstrap_servers, topics) as reader:
        async for batch in reader.batches():
            for item in batch.events:
                if isinstance(item, Consumed) and str(item.event.event_id) in event_ids:
                    found.add((item.topic, item.partition, item.offset))
    return found

"""Every consumer's step (timeline projector, complaints processor, callbacks processor,
notifier) over the topics it follows, into one PostgreSQL database: `catch_up` runs each to the
current end of the log (going on from where its previous pass stopped), and
`assert_applied_or_dead_lettered` checks that each accepted event is either applied or in that
consumer's dead letter topic, and that the events sent afterwards were applied."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import Event
from events.topics import EVENT_TOPICS, Topic, topic_name
from services.notifier.handler import TRACKING_NAME as NOTIFIER, EventHandler, step_for
from services.notifier.main import CONSUMED_TOPICS as NOTIFIER_TOPICS
from services.projector.callbacks import processor as callbacks
from services.projector.callbacks.rules import CallbackRules
from services.projector.complaints import processor as complaints
from services.projector.complaints.detector import DetectorConfig
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION as TIMELINE
from services.projector.timeline.writer import TimelineWriter
from shared.config import Notifier, Settings
from shared.db.tracking import load_offsets
from shared.kafka.consumer import BatchReader, Consumed
from shared.kafka.follower import Backoff, LogStep, follow_in_bulk
from shared.kafka.publisher import InMemoryPublisher
from tests.integration.test_hostile_events import RULES, SLA, not_applied

Place = tuple[str, int, int]  # topic, partition, offset
Position = tuple[str, int]
FAST = Backoff(first=0.01, cap=0.05)


@dataclass
class Consumer:
    step: LogStep
    topics: tuple[Topic, ...]
    tracking: dict[Topic | None, str]  # the tracking name per topic (None: every other topic)
    records: Callable[[Event], bool] = lambda event: True  # which events it keeps a tracking row of
    reached: dict[Position, int] = field(default_factory=dict)

    def tracking_of(self, topic: Topic) -> str | None:
        return self.tracking.get(topic, self.tracking.get(None))


class Consumers:
    """Derived events and dead letters go to one in-memory publisher (`letters`); the callbacks
    processor's clock runs an hour ahead, so that its timers open the callbacks of missed calls."""

    def __init__(self, settings: Settings, engine: AsyncEngine, callback_rules: CallbackRules) -> None:
        self.settings, self.engine, prefix = settings, engine, settings.topic_prefix
        self.letters = InMemoryPublisher(topic_prefix=prefix)
        self.callbacks = callbacks.CallbackProcessor(engine, self.letters, prefix, callback_rules,
                                                     now=lambda: datetime.now(UTC) + timedelta(hours=1), backoff=FAST)
        self.consumers = {
            "projector": Consumer(BatchProjector(TimelineWriter(engine), self.letters, prefix, FAST).step,
                                  EVENT_TOPICS, {None: TIMELINE}),
            "complaints": Consumer(
                complaints.ComplaintProcessor(engine, self.letters, prefix, RULES, DetectorConfig(sla=SLA, rules=RULES),
                                              backoff=FAST).step,
                (*complaints.INTERACTION_TOPICS, Topic.COMPLAINTS),
                {Topic.COMPLAINTS: complaints.PROJECTION, None: complaints.DETECTOR}),
            "callbacks": Consumer(
                self.callbacks.step, (Topic.CALLS, Topic.CUSTOMERS, Topic.CALLBACKS),
                {Topic.CALLBACKS: callbacks.PROJECTION, None: callbacks.DECIDER},
                # the decider keeps rows of calls and erasures only: master data means nothing to it
                records=lambda event: event.type.startswith(("call.", "callback.")) or event.type == "customer.erased"),
            # positions in Faust's commits; tracking rows only for what its triggers need
            "notifier": Consumer(step_for(EventHandler(engine, Notifier(), [], {}), self.letters, prefix, FAST),
                                 NOTIFIER_TOPICS, {}),
        }

    def topics_of(self, consumer: Consumer) -> list[str]:
        return [topic_name(self.settings.topic_prefix, topic) for topic in consumer.topics]

    async def catch_up(self) -> None:
        for service, consumer in self.consumers.items():
            consumer.reached = await follow_in_bulk(self.settings.bootstrap_servers, self.topics_of(consumer),
                                                    consumer.step, consumer.reached, client_id=f"test-{service}")
        await self.callbacks.fire_due()

    async def assert_applied_or_dead_lettered(self, accepted: Collection[str], later: Collection[str]) -> None:
        await self.catch_up()
        places = await places_of(self.settings, list({*accepted, *later}))
        assert set(places) == {*accepted, *later}, "accepted events missing from the log"
        for service, consumer in self.consumers.items():
            await self._assert_followed(service, consumer)
            if not consumer.tracking:
                continue
            dead = {_place(dict(headers)) for topic, _, _, headers in self.letters.raw
                    if topic.endswith(f"deadletter.{service}")}
            for event_id, (topic, place, event) in places.items():
                name = consumer.tracking_of(topic)
                if topic not in consumer.topics or name is None or not consumer.records(event):
                    continue
                async with self.engine.connect() as conn:
                    applied = not await not_applied(conn, name, [event_id])
                if event_id in later:
                    assert applied, f"{service}: {event.type} {event_id}, sent after the hostile ones, was not applied"
                else:
                    assert applied or place in dead, f"{service}: {event.type} {event_id} neither applied nor dead-lettered"

    async def _assert_followed(self, service: str, consumer: Consumer) -> None:
        topics = self.topics_of(consumer)
        async with BatchReader(self.settings.bootstrap_servers, topics) as reader:
            ends = {position: end for position, end in (await reader.end_offsets()).items() if end}
        assert {p: consumer.reached.get(p, 0) for p in ends} == ends, f"{service} stalled"
        if not consumer.tracking:
            return
        stored: dict[Position, int] = {}
        async with self.engine.connect() as conn:
            for name in set(consumer.tracking.values()):
                stored |= await load_offsets(conn, name)
        assert {p: stored.get(p, 0) for p in ends} == ends, f"{service}: its stored positions did not reach the end"


def _place(headers: dict[str, bytes]) -> Place:
    return (headers["dlq.source_topic"].decode(), int(headers["dlq.source_partition"]),
            int(headers["dlq.source_offset"]))


async def places_of(settings: Settings, event_ids: list[str]) -> dict[str, tuple[Topic, Place, Event]]:
    """Where in the log the records carrying `event_ids` are: their topic, place and event."""
    wanted, found = set(event_ids), {}
    topics = {topic_name(settings.topic_prefix, topic): topic for topic in EVENT_TOPICS}
    async with BatchReader(settings.bootstrap_servers, list(topics)) as reader:
        async for batch in reader.batches():
            for item in batch.events:
                if isinstance(item, Consumed) and str(item.event.event_id) in wanted:
                    found[str(item.event.event_id)] = (topics[item.topic], (item.topic, item.partition, item.offset),
                                                       item.event)
    return found

"""`follow_as_member`: instances of a service in one consumer group share the partitions; each
partition starts where the stored positions say, and when an instance joins or leaves, every
event is still written exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest

from events.topics import Topic, topic_name
from shared.kafka.consumer import Consumed
from shared.kafka.follower import LogStep, follow_as_member
from shared.kafka.lag import consumer_groups
from shared.kafka.publisher import InMemoryPublisher, KafkaPublisher
from shared.kafka.topics import all_topic_names, ensure_topics
from tests.timeline_factories import form

pytestmark = pytest.mark.integration
Position = tuple[str, int]


class SharedStore:
    """What the database is to real instances: the effects and the positions, written together."""

    def __init__(self) -> None:
        self.written: Counter[str] = Counter()
        self.writer_of: dict[Position, set[str]] = {}
        self.positions: dict[Position, int] = {}

    def step_for(self, member: str, prefix: str) -> LogStep:
        async def write(events: Sequence[Consumed], next_offsets: Mapping[Position, int]) -> None:
            await asyncio.sleep(0.01)  # a transaction takes a moment, so rebalances meet batches in hand
            for item in events:
                self.written[str(item.event.event_id)] += 1
                self.writer_of.setdefault((item.topic, item.partition), set()).add(member)
            self.positions.update(next_offsets)

        return LogStep("test", write, InMemoryPublisher(topic_prefix=prefix), prefix)

    async def stored(self) -> dict[Position, int]:
        return dict(self.positions)


async def publish(bootstrap: str, prefix: str, start: int, count: int) -> set[str]:
    publisher = KafkaPublisher(bootstrap, prefix)
    await publisher.start()
    try:
        events = [form(n, f"member-{n}@example.org", minute=n % 600) for n in range(start, start + count)]
        await publisher.publish(events)
    finally:
        await publisher.stop()
    return {str(event.event_id) for event in events}


async def until(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def until_members(bootstrap: str, prefix: str, names: set[str], timeout: float = 60.0) -> None:
    """Until the group's members with these client ids each own partitions."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        _rows, members = await consumer_groups(bootstrap, prefix)
        if {m.client_id for m in members if m.partitions} == names:
            return
        assert asyncio.get_running_loop().time() < deadline, f"members now: {members}"
        await asyncio.sleep(0.5)


async def test_members_share_partitions_and_write_each_event_once_as_members_come_and_go(kafka_bootstrap):
    prefix = "members."
    await ensure_topics(kafka_bootstrap, all_topic_names(prefix), partitions=4)
    topics = [topic_name(prefix, Topic.WEBFORMS)]
    store = SharedStore()
    sent = await publish(kafka_bootstrap, prefix, 0, 300)
    store.positions = {}  # nothing written yet: every partition starts at 0

    def member(name: str) -> asyncio.Task[None]:
        return asyncio.create_task(follow_as_member(kafka_bootstrap, topics, store.step_for(name, prefix), store.stored,
                                                    group_id=f"{prefix}test", client_id=name, max_records=20))

    first = member("first")
    second = None
    try:
        await until(lambda: len(store.written) >= 60, "the first member to start")
        second = member("second")
        await until_members(kafka_bootstrap, prefix, {"first", "second"})
        sent |= await publish(kafka_bootstrap, prefix, 300, 300)
        await until(lambda: set(store.written) >= sent, "all 600 events")
        shared_work = {writer for writers in store.writer_of.values() for writer in writers}
        assert shared_work == {"first", "second"}, store.writer_of

        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        sent |= await publish(kafka_bootstrap, prefix, 600, 200)
        await until(lambda: set(store.written) >= sent, "the events published after the first member left")
        assert all(len(store.writer_of[(topics[0], p)] & {"second"}) for p in range(4))
    finally:
        for task in (first, second):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    twice = {event_id: n for event_id, n in store.written.items() if n > 1}
    assert not twice, f"{len(twice)} events written more than once"
    assert set(store.written) == sent

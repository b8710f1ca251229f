"""The callback processor with the in-memory publisher and a SQLite read model: decisions,
timers and the queue in one transaction per batch, and nothing twice when a batch comes again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.topics import Topic, topic_name
from services.projector.callbacks import store
from services.projector.callbacks.processor import CallbackProcessor
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import Consumed
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from tests.callback_calls import CALLER, T0, answered, missed, rules

CALLS = topic_name("touchpoint.", Topic.CALLS)
CALLBACKS = topic_name("touchpoint.", Topic.CALLBACKS)


class Clock:
    def __init__(self, at):  # type: ignore[no-untyped-def]
        self.at = at

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.at


@pytest.fixture
async def setup(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    publisher, clock = InMemoryPublisher(), Clock(T0)
    yield CallbackProcessor(engine, publisher, "touchpoint.", rules("15m"), clock), engine, publisher, clock
    await engine.dispose()


def consumed(events, topic=CALLS, first_offset=0):  # type: ignore[no-untyped-def]
    return [Consumed(event=e, topic=topic, partition=0, offset=first_offset + i) for i, e in enumerate(events)]


async def open_rows(engine):  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return await store.rows(conn, "open")


async def test_a_missed_call_opens_its_callback_only_when_the_timer_finds_the_grace_time_passed(setup):
    processor, engine, publisher, clock = setup
    batch = consumed([missed("c1", T0)])
    await processor.write(batch, {(CALLS, 0): 1})
    clock.at = T0 + timedelta(minutes=14)
    assert await processor.fire_due() == [] and await open_rows(engine) == []
    clock.at = T0 + timedelta(minutes=15)
    [event] = await processor.fire_due()
    assert event.type == "callback.opened" and [row.phone for row in await open_rows(engine)] == [CALLER]
    assert [e for _, _, e in publisher.published] == [event]
    assert await processor.fire_due() == []  # fired once


async def test_a_batch_read_again_decides_nothing_new_and_copies_of_derived_events_are_skipped(setup):
    processor, engine, publisher, clock = setup
    await processor.write(consumed([missed("c1", T0)]), {(CALLS, 0): 1})
    clock.at = T0 + timedelta(minutes=20)
    [opened] = await processor.fire_due()
    again = consumed([missed("c2", T0 + timedelta(minutes=30)), answered("c3", "outbound", T0 + timedelta(hours=1))], first_offset=1)
    derived = await processor.write(again, {(CALLS, 0): 3})
    assert [e.type for e in derived] == ["callback.attempted", "callback.closed"]
    assert await processor.write(again, {(CALLS, 0): 3}) == []  # redelivered: already applied
    await processor.write(consumed([opened, *derived], CALLBACKS), {(CALLBACKS, 0): 3})  # their copies from Kafka
    async with engine.connect() as conn:
        [row] = await store.rows(conn, None)
    assert (row.status, row.attempts, row.close_reason) == ("closed", 2, "called_back")


async def test_nothing_is_stored_when_kafka_does_not_acknowledge_the_derived_events(setup):
    processor, engine, publisher, clock = setup
    await processor.write(consumed([missed("c1", T0)]), {(CALLS, 0): 1})
    clock.at = T0 + timedelta(minutes=20)
    publisher.fail_with = KafkaUnavailable("down")
    with pytest.raises(KafkaUnavailable):
        await processor.fire_due()
    assert await open_rows(engine) == []
    publisher.fail_with = None
    [event] = await processor.fire_due()  # the next round opens it
    assert event.type == "callback.opened" and len(await open_rows(engine)) == 1

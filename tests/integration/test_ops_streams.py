"""Ops backend against the real broker: dead letters listed and replayed once, stream sampling."""

from __future__ import annotations

import pytest

from events.codec import encode
from events.topics import Topic, topic_name
from services.projector.ops.deadletters import ReplayRefused, read_dead_letters, replay, with_replays
from services.projector.ops.streams import StreamMonitor
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import BatchReader
from shared.kafka.deadletter import DeadLetter, send_to_deadletter
from shared.kafka.publisher import KafkaPublisher
from tests.integration.test_kafka_publisher import started

pytestmark = pytest.mark.integration


async def test_a_dead_letter_is_listed_and_replayed_once_to_its_source(kafka_settings, db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    calls = topic_name(kafka_settings.topic_prefix, Topic.CALLS)
    fixed = encode(started(5))
    try:
        await send_to_deadletter(publisher, kafka_settings.topic_prefix, DeadLetter(
            service="projector", reason="database constraint", original=fixed, source_topic=calls,
            source_partition=0, source_offset=3))
        await send_to_deadletter(publisher, kafka_settings.topic_prefix, DeadLetter(
            service="ingest", reason="signature mismatch", original=b"form=1", source="webhook:cti"))

        views = await read_dead_letters(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
        by_reason = {v.letter.reason: v for v in views}
        assert set(by_reason) == {"database constraint", "signature mismatch"}
        assert by_reason["signature mismatch"].preview == "form=1"

        letter = by_reason["database constraint"]
        assert await replay(engine, publisher, kafka_settings.bootstrap_servers, letter.id, "olaf") == calls
        with pytest.raises(ReplayRefused, match="already replayed"):
            await replay(engine, publisher, kafka_settings.bootstrap_servers, letter.id, "olaf")
        with pytest.raises(ReplayRefused, match="cannot be replayed"):
            await replay(engine, publisher, kafka_settings.bootstrap_servers, by_reason["signature mismatch"].id, "olaf")

        marked = {v.letter.reason: v.replayed_by for v in await with_replays(engine, views)}
        assert marked == {"database constraint": "olaf", "signature mismatch": None}

        async with BatchReader(kafka_settings.bootstrap_servers, [calls]) as reader:
            replayed = [c.event async for batch in reader.batches() for c in batch.events]
        assert [e.payload.call_id for e in replayed] == ["c-5"]
    finally:
        await publisher.stop()
        await engine.dispose()


async def test_the_stream_monitor_sees_throughput_and_dead_letters(kafka_settings):
    monitor = StreamMonitor(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    await monitor.sample_once()
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        await publisher.publish([started(n) for n in range(7)])
        await send_to_deadletter(publisher, kafka_settings.topic_prefix,
                                 DeadLetter(service="notifier", reason="bad", original=b"x"))
    finally:
        await publisher.stop()
    await monitor.sample_once()
    snapshot = monitor.snapshot()
    calls = topic_name(kafka_settings.topic_prefix, Topic.CALLS)
    assert snapshot.totals[calls] == 7
    assert snapshot.dead_letters["notifier"] == 1
    assert sum(snapshot.throughput[calls]) == 7

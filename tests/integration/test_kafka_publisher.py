"""The publisher against the real broker: acknowledged writes come back as the same events,
topics are created idempotently with unlimited retention, and an unreachable broker is an
error, never a silent drop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from events import ContactIdentifiers, decode, event_id_for
from events.call import CallStarted, CallStartedPayload
from events.topics import Topic, topic_name
from shared.kafka.deadletter import DeadLetter, send_to_deadletter
from shared.kafka.errors import KafkaUnavailable
from tests.infra.ports import free_port
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import all_topic_names, ensure_for

pytestmark = pytest.mark.integration


def started(n: int) -> CallStarted:
    now = datetime.now(UTC)
    return CallStarted(
        event_id=event_id_for("call.started", "cti", f"c-{n}"), occurred_at=now, recorded_at=now, source="cti",
        contact=ContactIdentifiers(phone=f"+49151000000{n:02d}"),
        payload=CallStartedPayload(provider="cti", call_id=f"c-{n}", direction="inbound"),
    )


async def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def test_published_events_come_back_from_kafka_unchanged(kafka_settings):
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    events = [started(n) for n in range(10)]
    try:
        await publisher.publish(events)
    finally:
        await publisher.stop()
    records = await consume_all(kafka_settings.bootstrap_servers, topic_name(kafka_settings.topic_prefix, Topic.CALLS), 10)
    assert sorted((decode(r.value) for r in records), key=lambda e: e.payload.call_id) == sorted(
        events, key=lambda e: e.payload.call_id
    )
    first = next(r for r in records if decode(r.value).payload.call_id == "c-3")
    assert first.key == b"phone:+4915100000003"
    assert dict(first.headers)["type"] == b"call.started"


async def test_topic_bootstrap_is_idempotent_and_keeps_events_forever(kafka_settings):
    assert await ensure_for(kafka_settings) == []  # the fixture already created them
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        assert set(all_topic_names(kafka_settings.topic_prefix)) <= names
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic_name(kafka_settings.topic_prefix, Topic.EMAIL))]
        )
        configs = {entry[0]: entry[1] for entry in responses[0].resources[0][4]}
        assert configs["retention.ms"] == "-1"
        assert configs["retention.bytes"] == "-1"
    finally:
        await admin.close()


async def test_publisher_raises_when_kafka_is_unreachable():
    publisher = KafkaPublisher(f"127.0.0.1:{free_port()}", "t.", request_timeout_ms=2000)
    started_at = time.monotonic()
    with pytest.raises(KafkaUnavailable):
        await publisher.publish([started(1)])
    assert time.monotonic() - started_at < 15, "must fail within the request timeout, not hang"
    await publisher.stop()


async def test_a_dead_letter_keeps_the_original_bytes_and_why(kafka_settings):
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    letter = DeadLetter(service="projector", reason="payload.call_id: Field required", original=b'{"broken": 1}',
                        source_topic="touchpoint.calls", source_partition=1, source_offset=17)
    try:
        await send_to_deadletter(publisher, kafka_settings.topic_prefix, letter)
    finally:
        await publisher.stop()
    [record] = await consume_all(kafka_settings.bootstrap_servers, f"{kafka_settings.topic_prefix}deadletter.projector", 1)
    back = DeadLetter.from_record(record.value, record.key, list(record.headers))
    assert back.original == b'{"broken": 1}'
    assert back.reason == "payload.call_id: Field required"
    assert (back.source_topic, back.source_partition, back.source_offset) == ("touchpoint.calls", 1, 17)
    assert back.first_seen is not None
